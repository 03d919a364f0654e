import { splitNalUnits, nalType } from '../../../common/media/h264-annex-b';
import { H264Segment, H264Segmenter, KeyframeWait } from './h264-segmenter';

// NAL units as an encoder writes them: header byte, then (for slices) first_mb_in_slice = 0 → top bit set.
const SPS = Buffer.from([0x67, 0x42, 0xc0, 0x1e, 0xd9]);
const PPS = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
const IDR = (fill: number) => Buffer.from([0x65, 0x88, fill, fill, fill]);
const P = (fill: number) => Buffer.from([0x41, 0x9a, fill, fill]);
const annexB = (...nals: Buffer[]) => Buffer.concat(nals.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n]));
const key = (fill: number) => annexB(SPS, PPS, IDR(fill));
const delta = (fill: number) => annexB(P(fill));

const FPS = 25;
const FRAME = 1000 / FPS;

function harness(opts: Partial<{ segmentMs: number; maxBytes: number }> = {}) {
  const segments: H264Segment[] = [];
  const waits: KeyframeWait[] = [];
  const seg = new H264Segmenter({ segmentMs: opts.segmentMs ?? 2000, maxBytes: opts.maxBytes ?? 1 << 20, frameIntervalMs: FRAME }, { segment: (s) => segments.push(s), keyframeWait: (w) => waits.push(w) });
  /** Sends `n` frames of `user` from Zoom time `t0`, a keyframe every `gop` frames starting at frame `firstKey`. */
  const play = (user: number, t0: number, n: number, gop: number, firstKey = 0) => {
    for (let i = 0; i < n; i++) seg.push(user, `U${user}`, t0 + i * FRAME, 1000 + i, (i - firstKey) % gop === 0 && i >= firstKey ? key(i & 0xff) : delta(i & 0xff));
  };
  return { seg, segments, waits, play };
}

const types = (b: Buffer) => splitNalUnits(b).map((n) => nalType(n.data));

describe('H264Segmenter', () => {
  it('waits for the first keyframe: drops and counts what comes before it, and reports the wait once', () => {
    const { seg, segments, waits, play } = harness();
    play(1, 10_000, 30, 25, 5); // frames 0–4 are P frames, keyframes at 5 and 30
    seg.flushAll('stream_end');
    expect(waits).toEqual([{ userId: 1, userName: 'U1', cause: 'connect', droppedUnits: 5, waitedMs: 5 * FRAME, ended: 'keyframe' }]);
    expect(segments).toHaveLength(1);
    expect(segments[0].firstTs).toBe(10_000 + 5 * FRAME);
    expect(segments[0].frameTs).toHaveLength(25);
    expect(seg.stats).toMatchObject({ accessUnits: 30, droppedUnits: 5, segments: 1 });
  });

  it('a stream that starts at a keyframe reports no wait', () => {
    const { seg, waits, segments, play } = harness();
    play(1, 0, 10, 25);
    seg.flushAll('stream_end');
    expect(waits).toEqual([]);
    expect(segments.map((s) => s.frameTs.length)).toEqual([10]);
  });

  it('cuts at the first keyframe once the segment is ≥ segmentMs long, never inside a GOP', () => {
    const { seg, segments, play } = harness({ segmentMs: 2000 });
    // GOP of 30 frames (1.2 s): 2 s is reached inside the second GOP, so the cut falls on the third keyframe (2.4 s).
    play(7, 0, 150, 30);
    seg.flushAll('stream_end');
    expect(segments.map((s) => s.frameTs.length)).toEqual([60, 60, 30]);
    expect(segments.map((s) => s.firstTs)).toEqual([0, 60 * FRAME, 120 * FRAME]);
    for (const s of segments) {
      expect(types(s.bytes).slice(0, 3)).toEqual([7, 8, 5]);
      // frame_ts: offsets from first_ts, one per access unit, in order.
      expect(s.frameTs).toEqual(s.frameTs.map((_, i) => i * FRAME));
      expect(s.lastTs).toBe(s.firstTs + (s.frameTs.length - 1) * FRAME);
      expect(s.durationMs).toBe(Math.round(s.frameTs.length * FRAME));
    }
    // Nothing lost or duplicated: every access unit is in exactly one segment.
    expect(segments.reduce((n, s) => n + s.frameTs.length, 0)).toBe(150);
  });

  it('keeps the bytes exactly as sent: 3- and 4-byte start codes, trailing zeros', () => {
    const { seg, segments } = harness();
    const threeByte = Buffer.concat([Buffer.from([0, 0, 1]), P(2), Buffer.from([0, 0])]);
    seg.push(1, 'A', 0, 0, key(1));
    seg.push(1, 'A', 40, 0, threeByte);
    seg.push(1, 'A', 80, 0, delta(3));
    seg.flushAll('stream_end');
    expect(segments[0].bytes.equals(Buffer.concat([key(1), threeByte, delta(3)]))).toBe(true);
  });

  it('byte cap: cuts at a keyframe early, or closes the segment and waits for the next keyframe', () => {
    const one = key(0).length + 4 * delta(0).length; // a 5-frame GOP
    const { seg, segments, waits, play } = harness({ segmentMs: 60_000, maxBytes: one * 2 });
    play(1, 0, 20, 5); // 4 GOPs: two fit, the third keyframe cuts
    seg.flushAll('stream_end');
    expect(segments.map((s) => s.frameTs.length)).toEqual([10, 10]);
    expect(waits).toEqual([]);

    const small = harness({ segmentMs: 60_000, maxBytes: key(0).length + 3 * delta(0).length });
    small.play(1, 0, 10, 10); // one 10-frame GOP: the cap comes after frame 3
    small.seg.flushAll('stream_end');
    expect(small.segments.map((s) => s.frameTs.length)).toEqual([4]);
    expect(small.waits).toEqual([{ userId: 1, userName: 'U1', cause: 'byte_cap', droppedUnits: 6, waitedMs: 6 * FRAME, ended: 'flushed' }]);
    for (const s of [...segments, ...small.segments]) expect(s.bytes.length).toBeLessThanOrEqual(one * 2);
  });

  it('flushes on speaker change, on idle and at the end; a returning speaker waits for a keyframe again', () => {
    const { seg, segments, waits } = harness();
    seg.push(1, 'Ann', 0, 0, key(1));
    seg.push(1, 'Ann', 40, 0, delta(2));
    expect(segments).toHaveLength(0);
    seg.push(2, 'Bob', 80, 0, key(3)); // Bob speaks: Ann's segment is written
    expect(segments.map((s) => [s.userId, s.frameTs.length])).toEqual([[1, 2]]);
    seg.push(1, 'Ann', 120, 0, delta(4)); // Ann back without a keyframe: dropped; Bob's segment written
    expect(segments.map((s) => [s.userId, s.frameTs.length])).toEqual([[1, 2], [2, 1]]);
    seg.push(1, 'Ann', 160, 0, key(5));
    expect(waits).toEqual([{ userId: 1, userName: 'Ann', cause: 'resume', droppedUnits: 1, waitedMs: 40, ended: 'keyframe' }]);
    seg.flushIdle(5000, 2000);
    expect(segments.map((s) => [s.userId, s.firstTs])).toEqual([[1, 0], [2, 80], [1, 160]]);
    expect(seg.openSegments).toBe(0);
  });

  it('after a reconnect every track waits for a keyframe (cause connect)', () => {
    const { seg, segments, waits } = harness();
    seg.push(1, 'A', 0, 0, key(1));
    seg.flushAll('reconnect');
    expect(segments).toHaveLength(1);
    seg.push(1, 'A', 2000, 0, delta(2));
    seg.push(1, 'A', 2040, 0, delta(3));
    seg.push(1, 'A', 2080, 0, key(4));
    seg.flushAll('stream_end');
    expect(waits).toEqual([{ userId: 1, userName: 'A', cause: 'connect', droppedUnits: 2, waitedMs: 80, ended: 'keyframe' }]);
    expect(segments.map((s) => s.firstTs)).toEqual([0, 2080]);
  });

  it('does not trust one message = one access unit: splits two pictures, joins parameter sets sent alone', () => {
    const { seg, segments } = harness();
    seg.push(1, 'A', 0, 0, annexB(SPS, PPS)); // parameter sets alone …
    seg.push(1, 'A', 0, 0, annexB(IDR(1))); // … then the keyframe: one access unit
    seg.push(1, 'A', 40, 0, annexB(P(2), P(3))); // two pictures in one message
    seg.flushAll('stream_end');
    expect(segments).toHaveLength(1);
    expect(segments[0].frameTs).toEqual([0, 40, 80]);
    expect(types(segments[0].bytes)).toEqual([7, 8, 5, 1, 1]);
  });

  it('puts the last SPS/PPS in front of a keyframe that arrives without them', () => {
    const { seg, segments } = harness({ segmentMs: 40 });
    seg.push(1, 'A', 0, 0, key(1));
    seg.push(1, 'A', 40, 0, annexB(IDR(2))); // a bare IDR cuts the segment (≥ 40 ms)
    seg.flushAll('stream_end');
    expect(segments.map((s) => types(s.bytes))).toEqual([[7, 8, 5], [7, 8, 5]]);
    // A bare IDR with no parameter sets ever seen cannot start a segment.
    const fresh = harness();
    fresh.seg.push(1, 'A', 0, 0, annexB(IDR(1)));
    fresh.seg.flushAll('stream_end');
    expect(fresh.segments).toHaveLength(0);
    expect(fresh.waits).toMatchObject([{ droppedUnits: 1, ended: 'flushed' }]);
  });

  it("reads the picture size from the segment's SPS", () => {
    const { seg, segments } = harness();
    const sps720 = Buffer.from('6764001facd9405005bb011000000300100000030320f1831960', 'hex');
    seg.push(1, 'A', 0, 0, annexB(sps720, PPS, IDR(1)));
    seg.flushAll('stream_end');
    seg.push(1, 'A', 40, 0, key(2)); // an SPS that cannot be read: no size
    seg.flushAll('stream_end');
    expect(segments.map((s) => [s.width, s.height])).toEqual([[1280, 720], [undefined, undefined]]);
  });

  it('keeps no view into a message: parameter sets and carried units are copies, not the megabyte they came in', () => {
    const { seg } = harness();
    const bigIdr = Buffer.concat([IDR(1), Buffer.alloc(1 << 20, 0x11)]);
    const keyMessage = annexB(SPS, PPS, bigIdr);
    seg.push(1, 'A', 0, 0, keyMessage);
    // A message with no picture: a megabyte of filler (too big to carry), parameter sets and an SEI, carried to the next message.
    const FILLER = Buffer.concat([Buffer.from([0x0c]), Buffer.alloc(1 << 20, 0xff)]);
    const SEI = Buffer.from([0x06, 0x05, 0x01, 0x22, 0x80]);
    const carriedMessage = annexB(FILLER, SPS, PPS, SEI);
    seg.push(1, 'A', 40, 0, carriedMessage);
    const track = (seg as unknown as { tracks: Map<number, { sps: Buffer; pps: Buffer; carried: Array<{ data: Buffer; raw: Buffer }> }> }).tracks.get(1)!;
    const held = [track.sps, track.pps, ...track.carried.flatMap((n) => [n.data, n.raw])];
    expect(track.carried.map((n) => nalType(n.data))).toEqual([7, 8, 6]);
    for (const b of held) {
      expect(b.buffer).not.toBe(keyMessage.buffer);
      expect(b.buffer).not.toBe(carriedMessage.buffer);
    }
    expect(track.carried[0].data.equals(SPS)).toBe(true);
  });

  it('counts messages without any NAL unit and bounds the participants it tracks', () => {
    const segments: H264Segment[] = [];
    const seg = new H264Segmenter({ segmentMs: 2000, maxBytes: 1 << 20, frameIntervalMs: FRAME, maxTracks: 2 }, { segment: (s) => segments.push(s), keyframeWait: () => undefined });
    seg.push(1, 'A', 0, 0, Buffer.from('not h264'));
    expect(seg.stats.malformed).toBe(1);
    seg.push(2, 'B', 0, 0, key(1));
    seg.push(3, 'C', 0, 0, key(1));
    expect(seg.stats.untracked).toBe(1);
  });
});
