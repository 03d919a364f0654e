import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobName } from '../../../jobs/job-names';
import type { MediaBatchPayload, MediaItem } from '../../../jobs/job-payloads';
import { DropReason, MediaBatcher, MediaJobName, StreamIds } from './media-batcher';
import { FILE_MAX_BYTES, MediaSpill } from './media-spill';

/** The module media-spill.ts calls into (spied on to fail a write part way). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeFs = require('node:fs') as typeof import('node:fs');

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

describe('MediaBatcher bounds while the queue is unreachable', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'media-spill-'));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** A queue that fails while `down`, and remembers every item it took. */
  function flakyQueue() {
    const q = {
      down: true,
      got: [] as Array<{ name: MediaJobName; ts: number }>,
      sink: {
        enqueueBatches: async (name: MediaJobName, batches: MediaBatchPayload[]) => {
          if (q.down) throw new Error('Connection is closed.');
          for (const p of batches) for (const s of p.streams) for (const i of s.items) q.got.push({ name, ts: i.timestamp });
        },
      },
    };
    return q;
  }

  function counters() {
    const c = {
      spilled: 0,
      drained: 0,
      adoptedFiles: 0,
      dropped: new Map<MediaJobName, number>(),
      droppedAtShutdown: new Map<string, number>(),
      /** Every drop, by `reason stream job`. */
      droppedBy: new Map<string, number>(),
      deferred: new Map<string, number>(),
      recovered: new Map<string, number>(),
    };
    const bump = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);
    return {
      c,
      hooks: {
        spilled: (_n: MediaJobName, k: number) => void (c.spilled += k),
        drained: (k: number) => void (c.drained += k),
        dropped: (ids: StreamIds, name: MediaJobName, k: number, reason: DropReason) => {
          bump(c.droppedBy, `${reason} ${ids.rtmsStreamId} ${name}`, k);
          if (reason === 'buffers_full') c.dropped.set(name, (c.dropped.get(name) ?? 0) + k);
          else bump(c.droppedAtShutdown, `${ids.rtmsStreamId} ${name}`, k);
        },
        deferred: (ids: StreamIds, k: number) => void bump(c.deferred, `${ids.sessionId} ${ids.rtmsStreamId}`, k),
        adopted: (files: number) => void (c.adoptedFiles += files),
        recovered: (ids: StreamIds, name: MediaJobName, k: number) => void bump(c.recovered, `${ids.rtmsStreamId} ${name}`, k),
      },
    };
  }

  const spillFiles = async () => (await fs.readdir(dir)).filter((f) => f.endsWith('.jsonl'));

  it('a shutdown while the queue is unreachable leaves every item still waiting, in memory or spilled, in the spill for the next process, which enqueues them all', async () => {
    const q = flakyQueue();
    const first = counters();
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, maxBufferedBytes: 100_000 }, new MediaSpill(dir, 50e6), first.hooks);
    for (let ts = 0; ts < 100; ts++) b.add(A, JobName.FrameSave, frame(ts));
    for (let ts = 0; ts < 5; ts++) b.add(B, JobName.TranscriptSave, text(ts));
    expect(first.c.spilled).toBeGreaterThan(0);
    await b.close();
    expect(Object.fromEntries(first.c.deferred)).toEqual({ 's1 a': 100, 's2 b': 5 });
    expect(first.c.droppedAtShutdown.size).toBe(0);
    expect(first.c.dropped.size).toBe(0);
    expect(b.pendingItems()).toBe(0);
    expect(b.bufferedBytes).toBe(0);
    expect((await spillFiles()).length).toBeGreaterThan(0);

    // The next process on this host: the queue works again.
    q.down = false;
    const next = counters();
    const b2 = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, maxBufferedBytes: 100_000 }, new MediaSpill(dir, 50e6), next.hooks);
    expect(next.c.adoptedFiles).toBeGreaterThan(0);
    expect(b2.spilledBytes).toBeGreaterThan(0);
    for (let i = 0; i < 20 && b2.spilledBytes > 0; i++) await b2.flush();
    expect(new Set(q.got.filter((g) => g.name === JobName.FrameSave).map((g) => g.ts)).size).toBe(100);
    expect(q.got.filter((g) => g.name === JobName.TranscriptSave)).toHaveLength(5);
    expect(Object.fromEntries(next.c.recovered)).toEqual({ [`a ${JobName.FrameSave}`]: 100, [`b ${JobName.TranscriptSave}`]: 5 });
    expect(await spillFiles()).toEqual([]);
    await b2.close();
  });

  it('a shutdown whose last enqueue hangs (commands queued while Redis is away) spills what it held by enqueueWaitMs instead of waiting', async () => {
    const { c, hooks } = counters();
    const never = new Promise<void>(() => undefined);
    const b = new MediaBatcher({ enqueueBatches: () => never }, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, enqueueWaitMs: 200 }, new MediaSpill(dir, 50e6), hooks);
    for (let ts = 0; ts < 30; ts++) b.add(A, JobName.FrameSave, frame(ts));
    void b.flush(); // hangs, holding the 30 frames
    for (let ts = 30; ts < 40; ts++) b.add(B, JobName.ChatSave, item(18, `chat ${ts}`, ts));
    const started = Date.now();
    await b.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(Object.fromEntries(c.deferred)).toEqual({ 's1 a': 30, 's2 b': 10 });
    expect(c.droppedAtShutdown.size).toBe(0);
    expect(b.bufferedBytes).toBe(0);

    const q = flakyQueue();
    q.down = false;
    const next = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000 }, new MediaSpill(dir, 50e6));
    for (let i = 0; i < 5 && next.spilledBytes > 0; i++) await next.flush();
    expect(q.got.filter((g) => g.name === JobName.FrameSave)).toHaveLength(30);
    expect(q.got.filter((g) => g.name === JobName.ChatSave)).toHaveLength(10);
    await next.close();
  });

  it("a stream's end waits at most enqueueWaitMs for an enqueue that hangs; its items stay and are enqueued once the queue answers", async () => {
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    let calls = 0;
    const b = new MediaBatcher(
      {
        enqueueBatches: async () => {
          calls += 1;
          if (calls === 1) await hung;
        },
      },
      { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, enqueueWaitMs: 200 },
    );
    b.add(A, JobName.TranscriptSave, text(1));
    const started = Date.now();
    await b.flushStream('a');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(b.pendingItems('a')).toBe(1);
    release();
    await b.flush();
    expect(b.pendingItems('a')).toBe(0);
    await b.close();
  });

  it('an unreadable spill file does not stop the batcher: it is skipped and what comes after is enqueued', async () => {
    const bad = path.join(dir, 'media-spill-1-a-0.jsonl');
    await fs.mkdir(bad);
    const old = new Date(Date.now() - 2 * 3_600_000);
    await fs.utimes(bad, old, old);
    const q = flakyQueue();
    q.down = false;
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000 }, new MediaSpill(dir, 50e6));
    await b.flush(); // drains the spill: the bad file is set aside
    b.add(A, JobName.TranscriptSave, text(1));
    await b.flush();
    expect(q.got).toEqual([{ name: JobName.TranscriptSave, ts: 1 }]);
    expect(b.spilledBytes).toBe(0);
    await b.close();
  });

  it('spilled media older than a day is dropped and reported per stream, not enqueued', async () => {
    const file = path.join(dir, 'media-spill-1-a-0.jsonl');
    const line = (ts: number) => JSON.stringify({ name: JobName.ChatSave, ids: A, item: item(18, `chat ${ts}`, ts) });
    await fs.writeFile(file, `${line(1)}\n${line(2)}\n`);
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await fs.utimes(file, twoDaysAgo, twoDaysAgo);
    const q = flakyQueue();
    q.down = false;
    const dropped: Array<[string, MediaJobName, number, DropReason]> = [];
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000 }, new MediaSpill(dir, 50e6), {
      spilled: () => undefined,
      drained: () => undefined,
      dropped: (ids, name, n, reason) => void dropped.push([ids.rtmsStreamId, name, n, reason]),
    });
    await b.flush();
    expect(q.got).toEqual([]);
    expect(dropped).toEqual([['a', JobName.ChatSave, 2, 'spill_expired']]);
    expect(await spillFiles()).toEqual([]);
    await b.close();
  });

  it("an adopted file older than a day leaves the pending count of a stream of the same id running here alone", async () => {
    const file = path.join(dir, 'media-spill-1-a-0.jsonl');
    const line = (ts: number) => JSON.stringify({ name: JobName.FrameSave, ids: A, item: frame(ts) });
    await fs.writeFile(file, [1, 2, 3, 4, 5, 6, 7, 8].map(line).join('\n') + '\n');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await fs.utimes(file, twoDaysAgo, twoDaysAgo);
    const q = flakyQueue();
    const { c, hooks } = counters();
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, maxBufferedBytes: 100_000 }, new MediaSpill(dir, 50e6), hooks);
    expect(c.adoptedFiles).toBe(1);
    for (let ts = 100; ts < 111; ts++) b.add(A, JobName.FrameSave, frame(ts)); // 6 spilled to a file of its own, 5 in memory
    expect(c.spilled).toBe(6);
    let settled = false;
    void b.whenSettled('a').then(() => (settled = true));
    q.down = false;
    await b.flush(); // the 5 in memory enqueued; the adopted file (oldest) dropped as expired
    expect(Object.fromEntries(c.droppedBy)).toEqual({ [`spill_expired a ${JobName.FrameSave}`]: 8 });
    expect(b.pendingItems('a')).toBe(6); // its own spilled ones still wait
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    await b.flush();
    expect(b.pendingItems('a')).toBe(0);
    expect(settled).toBe(true);
    expect(q.got.map((g) => g.ts).sort((x, y) => x - y)).toEqual(Array.from({ length: 11 }, (_, i) => 100 + i));
    await b.close();
  });

  it('a spill write that fails part way (a full disk) leaves nothing behind: what is reported dropped is never enqueued', async () => {
    const q = flakyQueue();
    const { c, hooks } = counters();
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, maxBufferedBytes: 100_000 }, new MediaSpill(dir, 50e6), hooks);
    for (let ts = 0; ts < 11; ts++) b.add(A, JobName.FrameSave, frame(ts)); // 6 spilled
    expect(c.spilled).toBe(6);
    const [own] = await spillFiles();
    const size = (await fs.stat(path.join(dir, own))).size;
    const real = nodeFs.appendFileSync;
    jest.spyOn(nodeFs, 'appendFileSync').mockImplementationOnce((f, data) => {
      real(f, typeof data === 'string' ? data.slice(0, data.length >> 1) : (data as Uint8Array).subarray(0, data.length >> 1));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    for (let ts = 11; ts < 17; ts++) b.add(A, JobName.FrameSave, frame(ts)); // the next relieve: 6 more, the write fails half-way
    const dropped = c.dropped.get(JobName.FrameSave) ?? 0;
    expect(dropped).toBe(6);
    expect((await fs.stat(path.join(dir, own))).size).toBe(size);
    expect(b.pendingItems('a')).toBe(17 - dropped);
    q.down = false;
    await drainAll(b);
    expect(b.pendingItems()).toBe(0);
    expect(q.got.length + dropped).toBe(17);
    expect(new Set(q.got.map((g) => g.ts)).size).toBe(q.got.length);
    expect(b.spilledBytes).toBe(0);
    await b.close();
  });

  it('an own spill file that cannot be read is reported dropped (spill_unreadable), not left pending nor deferred at shutdown', async () => {
    const q = flakyQueue();
    const { c, hooks } = counters();
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, maxBufferedBytes: 100_000 }, new MediaSpill(dir, 50e6), hooks);
    for (let ts = 0; ts < 11; ts++) b.add(A, JobName.FrameSave, frame(ts)); // 6 spilled, 5 in memory
    const own = path.join(dir, (await spillFiles())[0]);
    await fs.rm(own);
    await fs.mkdir(own); // reading it fails (EISDIR), as an unreadable disk block would
    let settled = false;
    void b.whenSettled('a').then(() => (settled = true));
    q.down = false;
    await b.flush();
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(true);
    expect(b.pendingItems('a')).toBe(0);
    expect(Object.fromEntries(c.droppedBy)).toEqual({ [`spill_unreadable a ${JobName.FrameSave}`]: 6 });
    expect(q.got).toHaveLength(5);
    await b.close();
    expect(c.deferred.size).toBe(0);
  });

  it('a shutdown with a large memory budget spills it in files of FILE_MAX_BYTES, all enqueued in order by the next process', async () => {
    const q = flakyQueue();
    const { c, hooks } = counters();
    const opts = { maxItems: 1000, maxBytes: 64e6, flushMs: 60_000, maxBufferedBytes: 64 * 1024 * 1024 };
    const b = new MediaBatcher(q.sink, opts, new MediaSpill(dir, 1e9), hooks);
    const data = 'F'.repeat(64 * 1024);
    for (let ts = 0; ts < 320; ts++) b.add(A, JobName.FrameSave, item(15, data, ts)); // ~20 MiB, all in memory
    expect(c.spilled).toBe(0);
    await b.close(); // the queue unreachable: everything goes to the spill at once
    expect(Object.fromEntries(c.deferred)).toEqual({ 's1 a': 320 });
    const line = Buffer.byteLength(JSON.stringify({ name: JobName.FrameSave, ids: A, item: item(15, data, 319) }) + '\n');
    const files = await spillFiles();
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) expect((await fs.stat(path.join(dir, f))).size).toBeLessThanOrEqual(FILE_MAX_BYTES + line);
    q.down = false;
    const next = new MediaBatcher(q.sink, opts, new MediaSpill(dir, 1e9));
    for (let i = 0; i < 10 && next.spilledBytes > 0; i++) await next.flush();
    expect(q.got.map((g) => g.ts)).toEqual(Array.from({ length: 320 }, (_, i) => i));
    await next.close();
  });

  it("whenSettled resolves once a stream's items are enqueued (at once when none waits), not before", async () => {
    const q = flakyQueue();
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000 });
    await b.whenSettled('a');
    b.add(A, JobName.TranscriptSave, text(1));
    let settled = false;
    const waiting = b.whenSettled('a').then(() => (settled = true));
    await b.flush(); // Redis down: still pending
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    q.down = false;
    await b.flush();
    await waiting;
    expect(settled).toBe(true);
    await b.close();
  });

  it('a shutdown with the queue working enqueues the whole spill, not just one file of it', async () => {
    const q = flakyQueue();
    const { c, hooks } = counters();
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, maxBufferedBytes: 100_000 }, new MediaSpill(dir, 50e6), hooks);
    for (let ts = 0; ts < 1000; ts++) b.add(A, JobName.FrameSave, frame(ts)); // ~10 MB spilled: two files
    expect((await spillFiles()).length).toBeGreaterThan(1);
    q.down = false;
    await b.close();
    expect(new Set(q.got.map((g) => g.ts)).size).toBe(1000);
    expect(c.deferred.size).toBe(0);
    expect(await spillFiles()).toEqual([]);
  });

  it('without room in the spill at shutdown, what is left in memory is dropped and reported per stream', async () => {
    const q = flakyQueue();
    const { c, hooks } = counters();
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, maxBufferedBytes: 1e6 }, null, hooks);
    for (let ts = 0; ts < 10; ts++) b.add(A, JobName.FrameSave, frame(ts));
    for (let ts = 0; ts < 5; ts++) b.add(B, JobName.TranscriptSave, text(ts));
    await b.close();
    expect(Object.fromEntries(c.droppedAtShutdown)).toEqual({ [`a ${JobName.FrameSave}`]: 10, [`b ${JobName.TranscriptSave}`]: 5 });
    expect(c.deferred.size).toBe(0);
    expect(b.pendingItems()).toBe(0);
  });

  it("an adopted file's items do not count against a stream of the same id running here", async () => {
    const q = flakyQueue();
    const gone = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, maxBufferedBytes: 50_000 }, new MediaSpill(dir, 50e6));
    for (let ts = 0; ts < 20; ts++) gone.add(A, JobName.FrameSave, frame(ts));
    await gone.close(); // left in the spill
    const { c, hooks } = counters();
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000 }, new MediaSpill(dir, 50e6), hooks);
    b.add(A, JobName.FrameSave, frame(100)); // the stream, taken over by this process
    q.down = false;
    await b.flush();
    expect(b.pendingItems('a')).toBe(0);
    for (let i = 0; i < 5 && b.spilledBytes > 0; i++) await b.flush();
    expect(c.recovered.get(`a ${JobName.FrameSave}`)).toBe(20);
    expect(new Set(q.got.map((g) => g.ts)).size).toBe(21);
    await b.close();
  });

  const frame = (ts: number) => item(15, 'F'.repeat(10_000), ts);
  const text = (ts: number) => item(17, `line ${ts}`, ts);

  async function drainAll(b: MediaBatcher) {
    for (let i = 0; i < 100 && b.pendingItems() > 0; i++) await b.flush();
  }

  it('memory stays under its budget, the rest spills to disk, and everything is enqueued after the outage', async () => {
    const q = flakyQueue();
    const { c, hooks } = counters();
    const budget = 200_000;
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, maxBufferedBytes: budget }, new MediaSpill(dir, 50e6), hooks);
    let maxMem = 0;
    for (let ts = 0; ts < 2000; ts++) {
      b.add(A, JobName.FrameSave, frame(ts)); // 20 MB of frames in all
      if (ts % 10 === 0) b.add(B, JobName.TranscriptSave, text(ts));
      maxMem = Math.max(maxMem, b.bufferedBytes);
      if (ts % 100 === 0) await b.flush(); // fails: Redis is down
    }
    expect(maxMem).toBeLessThanOrEqual(budget + 10_000);
    expect(c.spilled).toBeGreaterThan(1500);
    expect(c.dropped.size).toBe(0);
    expect(b.spilledBytes).toBeGreaterThan(15e6);
    expect(b.pendingItems()).toBe(2200);

    q.down = false;
    await drainAll(b);
    expect(b.pendingItems()).toBe(0);
    expect(b.spilledBytes).toBe(0);
    expect(await spillFiles()).toEqual([]);
    expect(c.drained).toBe(c.spilled);
    const frames = q.got.filter((g) => g.name === JobName.FrameSave).map((g) => g.ts);
    expect(new Set(frames).size).toBe(2000);
    expect(q.got.filter((g) => g.name === JobName.TranscriptSave)).toHaveLength(200);
    await b.close();
  });

  it('past both budgets frames are dropped and counted, text is kept while any frame can go instead', async () => {
    const q = flakyQueue();
    const { c, hooks } = counters();
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, maxBufferedBytes: 100_000 }, new MediaSpill(dir, 300_000), hooks);
    for (let ts = 0; ts < 1000; ts++) {
      b.add(A, JobName.FrameSave, frame(ts));
      b.add(B, JobName.ChatSave, item(18, `chat ${ts}`, ts));
      expect(b.bufferedBytes).toBeLessThanOrEqual(110_000);
      expect(b.spilledBytes).toBeLessThanOrEqual(300_000);
    }
    const droppedFrames = c.dropped.get(JobName.FrameSave) ?? 0;
    expect(droppedFrames).toBeGreaterThan(900);
    expect(c.dropped.get(JobName.ChatSave)).toBeUndefined();
    expect(b.pendingItems('a')).toBe(1000 - droppedFrames);

    q.down = false;
    await drainAll(b);
    expect(q.got.filter((g) => g.name === JobName.ChatSave)).toHaveLength(1000);
    expect(q.got.filter((g) => g.name === JobName.FrameSave)).toHaveLength(1000 - droppedFrames);
    await b.close();
  });

  it('an enqueue that hangs (Redis down, commands queued) leaves at most one flush waiting, not one per add', async () => {
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    const calls: number[] = [];
    const b = new MediaBatcher(
      {
        enqueueBatches: async (_n, batches) => {
          calls.push(batches.reduce((n, p) => n + p.streams.reduce((m, s) => m + s.items.length, 0), 0));
          if (calls.length === 1) await hung;
        },
      },
      { maxItems: 1, maxBytes: 1e6, flushMs: 60_000 },
    );
    const flushes = new Set<Promise<void>>();
    for (let ts = 0; ts < 10_000; ts++) {
      b.add(A, JobName.TranscriptSave, text(ts));
      flushes.add(b.flush());
    }
    expect(flushes.size).toBeLessThanOrEqual(2);
    release();
    await b.flush();
    expect(calls.length).toBeLessThanOrEqual(3);
    expect(calls.reduce((a, n) => a + n, 0)).toBe(10_000);
    expect(b.pendingItems()).toBe(0);
    await b.close();
  });

  it('without a spill, frames are dropped first and text survives', async () => {
    const q = flakyQueue();
    const { c, hooks } = counters();
    const b = new MediaBatcher(q.sink, { maxItems: 50, maxBytes: 1e6, flushMs: 60_000, maxBufferedBytes: 100_000 }, null, hooks);
    for (let ts = 0; ts < 100; ts++) {
      b.add(A, JobName.FrameSave, frame(ts));
      b.add(B, JobName.TranscriptSave, text(ts));
    }
    expect(b.bufferedBytes).toBeLessThanOrEqual(110_000);
    expect(c.dropped.get(JobName.TranscriptSave)).toBeUndefined();
    expect(b.pendingItems('b')).toBe(100);
    q.down = false;
    await drainAll(b);
    expect(q.got.filter((g) => g.name === JobName.TranscriptSave)).toHaveLength(100);
    await b.close();
  });
});
