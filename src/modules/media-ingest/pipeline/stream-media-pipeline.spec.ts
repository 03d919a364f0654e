import type { MediaBatchPayload, MediaItem } from '../../../jobs/job-payloads';
import { FrameFormat, LiveBinaryMedia, LiveTextEntry } from '../../live';
import type { CapturePolicy } from '../../sessions';
import { MediaBatcher, MediaJobName } from './media-batcher';
import { KEEP_EVERYTHING } from './media-filter';
import { AudioSink, StreamLive, StreamMediaPipeline, StreamVideoCapture } from './stream-media-pipeline';
import type { KeyframeWait } from '../video/h264-segmenter';
import { everythingPolicy } from '../../sessions/capture-policy.spec-helper';

const POLICY: CapturePolicy = everythingPolicy();
const A = { sessionId: 's1', rtmsStreamId: 'a' };
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
const item = (msgType: number, over: Partial<MediaItem> = {}): MediaItem => ({ msgType, userId: 1, timestamp: 1, data: 'AAAA', receivedAt: 1, ...over });

/** The pipeline with every outlet recorded: batched items, spooled audio, live text and live frames. */
function harness(policy: Partial<CapturePolicy> = {}, wanted: LiveBinaryMedia[] = [], filter = KEEP_EVERYTHING, video?: StreamVideoCapture) {
  const batched: Array<{ name: MediaJobName; batches: MediaBatchPayload[] }> = [];
  const batcher = new MediaBatcher({ enqueueBatches: async (name, batches) => void batched.push({ name, batches }) }, { maxItems: 100, maxBytes: 1e6, flushMs: 10 });
  const audio: Array<{ userId: string; ts: number; pcm: Buffer }> = [];
  const audioSink: AudioSink = { append: (userId, _name, p) => audio.push({ userId, ts: p.ts, pcm: p.pcm }) > 0 };
  const text: LiveTextEntry[] = [];
  const frames: Array<{ media: LiveBinaryMedia; userId: number; ts: number; payload: Buffer; format: FrameFormat }> = [];
  const wants = jest.fn((m: LiveBinaryMedia) => wanted.includes(m));
  const live: StreamLive = {
    tap: { wants, publish: (media, userId, ts, payload, format) => void frames.push({ media, userId, ts, payload, format }) },
    text: { append: (e) => void text.push(e) },
    codecs: { video: 5, deskshare: 5 },
  };
  const pipeline = new StreamMediaPipeline(A, { ...POLICY, ...policy }, filter, batcher, audioSink, live, video);
  const batchedTypes = async () => {
    await pipeline.close();
    return batched.flatMap((o) => o.batches.flatMap((b) => b.streams.flatMap((s) => s.items.map((i) => i.msgType))));
  };
  return { pipeline, batcher, batched, audio, text, frames, wants, batchedTypes };
}

describe('StreamMediaPipeline', () => {
  it('applies the capture filter, sends audio decoded to the audio sink and the rest to the batcher', async () => {
    const h = harness({}, [], { shouldKeep: (i) => i.msgType !== 18 });
    expect(h.pipeline.add(item(14, { data: Buffer.from([1, 2, 3, 4]).toString('base64'), timestamp: 5 }))).toBe(true);
    expect(h.pipeline.add(item(15))).toBe(true);
    expect(h.pipeline.add(item(18, { data: 'dropped' }))).toBe(false);
    expect(h.pipeline.add(item(99))).toBe(false); // no saver takes it
    expect(await h.batchedTypes()).toEqual([15]);
    expect(h.audio).toEqual([{ userId: '1', ts: 5, pcm: Buffer.from([1, 2, 3, 4]) }]);
    expect(h.pipeline.stats).toEqual({ kept: 2, filtered: 1, notStored: 0 });
    await h.batcher.close();
  });

  it('with nobody listening: binary media only asks the tap (nothing published), transcript and chat are logged anyway', async () => {
    const h = harness();
    for (const t of [14, 15, 16]) h.pipeline.add(item(t));
    h.pipeline.add(item(17, { data: 'hello', userName: 'Ann', meta: { start_time: 10, end_time: 20, language: 9, attribute: 0 } }));
    h.pipeline.add(item(18, { data: 'hi', userName: 'Ann', meta: { message_id: 'm1', chat_session: 'c', operation_type: 1 } }));
    expect(h.frames).toHaveLength(0);
    expect(h.wants.mock.calls.map(([m]) => m)).toEqual(['audio', 'video', 'deskshare']);
    expect(h.text).toEqual([
      { media: 'transcript', session_id: 's1', ts: 1, received_at: 1, data: { user_id: 1, user_name: 'Ann', text: 'hello', language: 9, start_time: 10, end_time: 20, attribute: 0 } },
      { media: 'chat', session_id: 's1', ts: 1, received_at: 1, data: { user_id: 1, user_name: 'Ann', text: 'hi', message_id: 'm1', parent_message_id: null, chat_session: 'c', operation_type: 1, receiver_user_id: null } },
    ]);
    await h.batcher.close();
  });

  it('publishes wanted media live with every frame (no storage sampling), its format, and the decoded bytes', async () => {
    const h = harness({ video: { skip_first_frames: 5, interval_ms: 60_000, max_frames_per_user: 1, store: true } }, ['audio', 'video'], { shouldKeep: () => false });
    const pcm = Buffer.from([9, 8, 7, 6]);
    h.pipeline.add(item(14, { data: pcm.toString('base64'), timestamp: 7 }), pcm);
    h.pipeline.add(item(15, { data: JPEG.toString('base64'), timestamp: 8 }), JPEG);
    h.pipeline.add(item(15, { data: JPEG.toString('base64'), timestamp: 9 })); // decoded here when the parser did not
    h.pipeline.add(item(16), Buffer.from([1]));
    expect(h.frames).toEqual([
      { media: 'audio', userId: 1, ts: 7, payload: pcm, format: FrameFormat.L16 },
      { media: 'video', userId: 1, ts: 8, payload: JPEG, format: FrameFormat.Jpeg },
      { media: 'video', userId: 1, ts: 9, payload: JPEG, format: FrameFormat.Jpeg },
    ]);
    expect(h.pipeline.stats.filtered).toBe(4); // storage's filter refused everything; live did not care
    await h.batcher.close();
  });

  it('applies the participant rules and the transcript/chat switches to live as well (privacy)', async () => {
    const h = harness({ exclude_user_ids: ['2'], chat: { enabled: false, store: true } }, ['audio']);
    h.pipeline.add(item(14, { userId: 2 }), Buffer.alloc(2));
    h.pipeline.add(item(14, { userId: 0 }), Buffer.alloc(2)); // mixed audio is nobody's
    h.pipeline.add(item(17, { userId: 2 }));
    h.pipeline.add(item(18, { userId: 1 }));
    expect(h.frames.map((f) => f.userId)).toEqual([0]);
    expect(h.text).toEqual([]);
    await h.batcher.close();
  });

  it('store: false — published live, nothing to the audio spool or the batcher', async () => {
    const h = harness({ audio: { mode: 'per_participant', segment_seconds: 10, store: false }, transcript: { enabled: true, src_language: -1, store: false }, chat: { enabled: true, store: false } }, ['audio']);
    expect(h.pipeline.add(item(14), Buffer.alloc(4))).toBe(false);
    expect(h.pipeline.add(item(17, { data: 'said' }))).toBe(false);
    expect(h.pipeline.add(item(18, { data: 'typed' }))).toBe(false);
    expect(h.pipeline.add(item(15))).toBe(true); // video is still stored
    expect(await h.batchedTypes()).toEqual([15]);
    expect(h.audio).toEqual([]);
    expect(h.frames.map((f) => f.media)).toEqual(['audio']);
    expect(h.text.map((e) => e.data.text)).toEqual(['said', 'typed']);
    expect(h.pipeline.stats).toEqual({ kept: 1, filtered: 0, notStored: 3 });
    await h.batcher.close();
  });

  it('h264: frames go through the segmenter; each finished segment is one batched item (SPS/PPS/IDR first, frame offsets), waits are reported', async () => {
    const annexB = (...nals: number[][]) => Buffer.concat(nals.flatMap((n) => [Buffer.from([0, 0, 0, 1]), Buffer.from(n)]));
    const KEY = annexB([0x67, 0x42], [0x68, 0xce], [0x65, 0x88, 1]);
    const P = annexB([0x41, 0x9a, 2]);
    const waits: Array<{ kind: string; w: KeyframeWait }> = [];
    const video: StreamVideoCapture = { segmentMs: 1000, maxBytes: 1 << 20, keyframeWait: (kind, w) => void waits.push({ kind, w }) };
    const h = harness({ video: { skip_first_frames: 9, interval_ms: 60_000, max_frames_per_user: 1, store: true, format: 'h264', fps: 25 } }, [], KEEP_EVERYTHING, video);
    const send = (userId: number, ts: number, bytes: Buffer) => h.pipeline.add(item(15, { userId, userName: `U${userId}`, timestamp: ts, data: bytes.toString('base64') }), bytes);
    send(1, 960, P); // before any keyframe: dropped
    send(1, 1000, KEY);
    send(1, 1040, P);
    send(1, 2000, KEY); // 1 s: cut
    send(2, 2040, KEY); // another speaker: user 1's segment is written
    h.pipeline.mediaReconnecting(['audio']); // not video: nothing flushed
    h.pipeline.mediaReconnecting(['video']); // user 2's segment is written, tracks wait again
    send(2, 5000, P);
    await h.pipeline.close();
    const items = h.batched.flatMap((o) => o.batches.flatMap((b) => b.streams.flatMap((s) => s.items)));
    expect(items.map((i) => [i.msgType, i.userId, i.timestamp, i.segment])).toEqual([
      [15, 1, 1000, { frames: 2, firstTs: 1000, lastTs: 1040, frameTs: [0, 40], durationMs: 80 }],
      [15, 1, 2000, { frames: 1, firstTs: 2000, lastTs: 2000, frameTs: [0], durationMs: 40 }],
      [15, 2, 2040, { frames: 1, firstTs: 2040, lastTs: 2040, frameTs: [0], durationMs: 40 }],
    ]);
    expect(Buffer.from(items[0].data, 'base64').equals(Buffer.concat([KEY, P]))).toBe(true);
    expect(items[0].userName).toBe('U1');
    expect(waits).toEqual([
      { kind: 'video', w: { userId: 1, userName: 'U1', cause: 'connect', droppedUnits: 1, waitedMs: 40, ended: 'keyframe' } },
      { kind: 'video', w: { userId: 2, userName: 'U2', cause: 'connect', droppedUnits: 1, waitedMs: 40, ended: 'flushed' } },
    ]);
    // Sampling does not apply to h264 (the filter keeps everything here; CapturePolicyFilter skips sampling for h264).
    expect(h.pipeline.stats).toEqual({ kept: 6, filtered: 0, notStored: 0 });
    await h.batcher.close();
  });

  it('h264 with store: false makes no segments', async () => {
    const h = harness({ video: { skip_first_frames: 0, interval_ms: 0, max_frames_per_user: 0, store: false, format: 'h264', fps: 25 } }, [], KEEP_EVERYTHING, { segmentMs: 1000, maxBytes: 1 << 20, keyframeWait: () => undefined });
    expect(h.pipeline.add(item(15))).toBe(false);
    expect(await h.batchedTypes()).toEqual([]);
    await h.batcher.close();
  });
});
