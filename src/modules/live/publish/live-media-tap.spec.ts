import { decodeFrameHeader, FrameFormat, LiveBinaryMedia } from '../live-protocol';
import { frameFormatOf, RTMS_CODEC_H264 } from './frame-format';
import { LiveMediaTap } from './live-media-tap';
import { NOTHING_WANTED, wantedMediaOf } from './media-registry';

const SESSION = '0b7c2f4e-1d3a-4c5b-9e8f-a1b2c3d4e5f6';

function tapWithSink() {
  const frames: Array<{ media: LiveBinaryMedia; frame: Buffer }> = [];
  const closed: LiveMediaTap[] = [];
  const tap = new LiveMediaTap(SESSION, { queueFrame: (_s, media, frame) => frames.push({ media, frame }) }, (t) => closed.push(t));
  return { tap, frames, closed };
}

describe('registry members → wanted media', () => {
  it('unions the media named by every member; unknown names are ignored', () => {
    expect(wantedMediaOf([])).toBe(NOTHING_WANTED);
    expect(wantedMediaOf(['api-1|audio', 'api-2|deskshare,video'])).toEqual({ audio: true, video: true, deskshare: true });
    expect(wantedMediaOf(['api-1|video', 'api|with|bars|audio', 'api-3|transcript,bogus'])).toEqual({ audio: true, video: true, deskshare: false });
    expect(wantedMediaOf(['no-bar'])).toEqual(NOTHING_WANTED);
  });
});

describe('LiveMediaTap', () => {
  it('wants nothing until told, and only what it is told', () => {
    const { tap } = tapWithSink();
    expect(tap.wants('audio')).toBe(false);
    tap.setWanted({ audio: true, video: false, deskshare: false });
    expect([tap.wants('audio'), tap.wants('video'), tap.wants('deskshare')]).toEqual([true, false, false]);
  });

  it('frames each packet with a sequence per media and participant (+1 per frame)', () => {
    const { tap, frames } = tapWithSink();
    const pcm = Buffer.from([1, 2, 3, 4]);
    tap.publish('audio', 101, 1_700_000_000_000, pcm, FrameFormat.L16);
    tap.publish('audio', 101, 1_700_000_000_100, pcm, FrameFormat.L16);
    tap.publish('audio', 102, 1_700_000_000_100, pcm, FrameFormat.L16);
    tap.publish('video', 101, 1_700_000_000_200, Buffer.from([0xff, 0xd8]), FrameFormat.Jpeg);
    tap.publish('audio', 101, 1_700_000_000_200, pcm, FrameFormat.L16);
    const headers = frames.map((f) => decodeFrameHeader(f.frame)!);
    expect(headers.map((h) => [h.media, h.userId, h.sequence])).toEqual([
      ['audio', 101, 0],
      ['audio', 101, 1],
      ['audio', 102, 0],
      ['video', 101, 0],
      ['audio', 101, 2],
    ]);
    expect(headers[0]).toMatchObject({ sessionId: SESSION, timestamp: 1_700_000_000_000, format: FrameFormat.L16, headerBytes: 48 });
    expect(frames[0].frame.subarray(48)).toEqual(pcm);
  });

  it('once closed, wants nothing, publishes nothing and tells its publisher (once)', () => {
    const { tap, frames, closed } = tapWithSink();
    tap.setWanted({ audio: true, video: true, deskshare: true });
    tap.close();
    tap.close();
    tap.setWanted({ audio: true, video: true, deskshare: true });
    expect(tap.wants('audio')).toBe(false);
    tap.publish('audio', 1, 1, Buffer.alloc(2), FrameFormat.L16);
    expect(frames).toHaveLength(0);
    expect(closed).toEqual([tap]);
  });
});

describe('frameFormatOf', () => {
  it('audio is L16; images by their magic number; otherwise H.264 only if the stream asked for it', () => {
    expect(frameFormatOf('audio', Buffer.from([0xff, 0xd8]), undefined)).toBe(FrameFormat.L16);
    expect(frameFormatOf('video', Buffer.from([0xff, 0xd8, 0xff]), 5)).toBe(FrameFormat.Jpeg);
    expect(frameFormatOf('deskshare', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d]), 5)).toBe(FrameFormat.Png);
    expect(frameFormatOf('video', Buffer.from([0, 0, 0, 1, 0x67]), RTMS_CODEC_H264)).toBe(FrameFormat.H264);
    expect(frameFormatOf('video', Buffer.from([0, 0, 0, 1, 0x67]), 5)).toBe(FrameFormat.Unknown);
    expect(frameFormatOf('video', Buffer.alloc(0), undefined)).toBe(FrameFormat.Unknown);
  });
});
