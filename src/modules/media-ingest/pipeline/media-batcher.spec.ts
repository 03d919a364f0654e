import { JobName } from '../../../jobs/job-names';
import type { MediaBatchPayload, MediaItem } from '../../../jobs/job-payloads';
import { MediaBatcher, MediaJobName } from './media-batcher';

const item = (msgType: number, data = 'AAAA', timestamp = 1): MediaItem => ({ msgType, userId: 1, timestamp, data, receivedAt: 1 });
const A = { sessionId: 's1', rtmsStreamId: 'a' };
const B = { sessionId: 's2', rtmsStreamId: 'b' };

function collect() {
  const out: Array<{ name: MediaJobName; batches: MediaBatchPayload[] }> = [];
  return { out, sink: { enqueueBatches: async (name: MediaJobName, batches: MediaBatchPayload[]) => void out.push({ name, batches }) } };
}

describe('MediaBatcher (one per worker process)', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('puts the items of many streams in one job per flush, grouped by stream in arrival order', async () => {
    jest.useFakeTimers();
    const { out, sink } = collect();
    const b = new MediaBatcher(sink, { maxItems: 100, maxBytes: 1e6, flushMs: 20 });
    b.add(A, JobName.FrameSave, item(15, 'AAAA', 1));
    b.add(B, JobName.FrameSave, item(15, 'AAAA', 2));
    b.add(A, JobName.FrameSave, item(16, 'AAAA', 3));
    b.add(B, JobName.TranscriptSave, item(17, 'hi', 4));
    await jest.advanceTimersByTimeAsync(20); // the time flush
    expect(out.map((o) => o.name).sort()).toEqual([JobName.FrameSave, JobName.TranscriptSave]);
    const frames = out.find((o) => o.name === JobName.FrameSave)!.batches;
    expect(frames).toHaveLength(1);
    expect(frames[0].streams.map((s) => [s.sessionId, s.rtmsStreamId, s.items.map((i) => i.timestamp)])).toEqual([
      ['s1', 'a', [1, 3]],
      ['s2', 'b', [2]],
    ]);
    expect(b.pendingItems()).toBe(0);
    await b.close();
  });

  it('cuts payloads at maxItems and maxBytes', async () => {
    const { out, sink } = collect();
    const b = new MediaBatcher(sink, { maxItems: 3, maxBytes: 12, flushMs: 1000 });
    for (let i = 0; i < 3; i++) b.add(A, JobName.FrameSave, item(15, 'AAAA', i)); // 3 items → flush at once
    await b.flush();
    b.add(A, JobName.ChatSave, item(18, '12345678', 10));
    b.add(B, JobName.ChatSave, item(18, '12345678', 11)); // 16 bytes ≥ 12 → flush, split in two
    await b.flush();
    expect(out[0].batches.map((p) => p.streams[0].items.length)).toEqual([3]);
    const chat = out.find((o) => o.name === JobName.ChatSave)!.batches;
    expect(chat.map((p) => p.streams.map((s) => s.rtmsStreamId))).toEqual([['a'], ['b']]);
    await b.close();
  });

  it('keeps items in order when enqueueing fails, and a stream can wait for its own items', async () => {
    let fail = true;
    const got: number[] = [];
    const b = new MediaBatcher(
      {
        enqueueBatches: async (_n, batches) => {
          if (fail) throw new Error('redis down');
          for (const p of batches) for (const s of p.streams) got.push(...s.items.map((i) => i.timestamp));
        },
      },
      { maxItems: 100, maxBytes: 1e6, flushMs: 10 },
    );
    b.add(A, JobName.FrameSave, item(15, 'AAAA', 1));
    await b.flush();
    b.add(B, JobName.FrameSave, item(15, 'AAAA', 2));
    b.add(A, JobName.FrameSave, item(15, 'AAAA', 3));
    expect(b.pendingItems('a')).toBe(2);
    expect(b.pendingItems('b')).toBe(1);
    fail = false;
    await b.flushStream('a');
    // Grouped by stream, streams in order of their first item, items in arrival order.
    expect(got).toEqual([1, 3, 2]);
    expect(b.pendingItems()).toBe(0);
    expect(b.pendingItems('a')).toBe(0);
    await b.close();
  });
});
