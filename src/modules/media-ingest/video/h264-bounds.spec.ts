import { nalType, splitNalUnits } from '../../../common/media/h264-annex-b';
import { H264Segment, H264Segmenter, KeyframeWait } from './h264-segmenter';

/**
 * The segmenter's memory and segment size stay bounded whatever a peer sends: units
 * without a picture are not piled up in front of the next one, and no segment is opened
 * past maxBytes, not even at a keyframe.
 */
const SPS = Buffer.from([0x67, 0x42, 0xc0, 0x1e, 0xd9]);
const PPS = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
const IDR = (fill: number, size = 5) => Buffer.concat([Buffer.from([0x65, 0x88]), Buffer.alloc(size - 2, fill)]);
const P = (fill: number) => Buffer.from([0x41, 0x9a, fill, fill]);
const SEI = (fill: number, size: number) => Buffer.concat([Buffer.from([0x06]), Buffer.alloc(size - 1, fill)]);
const annexB = (...nals: Buffer[]) => Buffer.concat(nals.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n]));

function harness(maxBytes: number) {
  const segments: H264Segment[] = [];
  const waits: KeyframeWait[] = [];
  const seg = new H264Segmenter({ segmentMs: 2000, maxBytes, frameIntervalMs: 40 }, { segment: (s) => segments.push(s), keyframeWait: (w) => waits.push(w) });
  return { seg, segments, waits };
}

describe('H264Segmenter bounds', () => {
  it('messages without a picture: only the latest SPS and PPS and a few other units are carried to the next picture; the rest are counted', () => {
    const { seg, segments } = harness(64 * 1024);
    // 2,000 messages of a 1 KB SEI each (2 MB), with an SPS and a PPS now and then: never a picture.
    for (let i = 0; i < 2000; i++) seg.push(7, 'x', 1000 + i * 40, 0, i % 500 === 0 ? annexB(SPS, PPS, SEI(i & 0xff, 1000)) : annexB(SEI(i & 0xff, 1000)));
    const started = Date.now();
    seg.push(7, 'x', 100_000, 0, annexB(IDR(1)));
    seg.push(7, 'x', 100_040, 0, annexB(P(2)));
    seg.flushAll('stream_end');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(segments).toHaveLength(1);
    const types = splitNalUnits(segments[0].bytes).map((n) => nalType(n.data));
    // The latest SPS and PPS (those of message 1500), the latest 8 SEI, the picture.
    expect(types).toEqual([7, 8, 6, 6, 6, 6, 6, 6, 6, 6, 5, 1]);
    expect(segments[0].bytes.length).toBeLessThan(10 * 1024);
    expect(seg.stats.carriedDropped).toBe(2000 + 3 * 2 - 8);
    // The SEI kept are the latest ones (message 1999 last).
    const lastSei = splitNalUnits(segments[0].bytes)[9];
    expect(lastSei.data[1]).toBe(1999 & 0xff);
  });

  it('a keyframe larger than maxBytes opens no segment: dropped and counted, and the track waits for the next one', () => {
    const max = 4096;
    const { seg, segments, waits } = harness(max);
    seg.push(1, 'A', 0, 0, annexB(SPS, PPS, IDR(1, 8000))); // alone past the cap
    seg.push(1, 'A', 40, 0, annexB(P(2)));
    seg.push(1, 'A', 80, 0, annexB(SPS, PPS, IDR(3)));
    seg.push(1, 'A', 120, 0, annexB(P(4)));
    // Cut at a keyframe that is itself too big: the segment closes, the track waits again.
    seg.push(1, 'A', 2200, 0, annexB(SPS, PPS, IDR(5, 9000)));
    seg.push(1, 'A', 2240, 0, annexB(P(6)));
    seg.flushAll('stream_end');
    expect(segments.map((s) => [s.firstTs, s.frameTs.length])).toEqual([[80, 2]]);
    for (const s of segments) expect(s.bytes.length).toBeLessThanOrEqual(max);
    expect(seg.stats.oversized).toBe(2);
    expect(waits).toEqual([
      { userId: 1, userName: 'A', cause: 'connect', droppedUnits: 2, waitedMs: 80, ended: 'keyframe' },
      { userId: 1, userName: 'A', cause: 'byte_cap', droppedUnits: 2, waitedMs: 80, ended: 'flushed' },
    ]);
  });
});
