import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { TcpFaultProxy } from '../bench/tcp-fault-proxy';
import { redisOptionsFromUrl } from '../src/common/redis/redis-options';
import { JobName } from '../src/jobs/job-names';
import type { MediaBatchPayload, MediaItem } from '../src/jobs/job-payloads';
import { MediaBatcher, MediaJobName } from '../src/modules/media-ingest/pipeline/media-batcher';
import { MediaSpill } from '../src/modules/media-ingest/pipeline/media-spill';
import { waitFor } from './utils/wait-for';

/**
 * The media batcher through a real Redis outage: a BullMQ queue whose Redis is behind a
 * TcpFaultProxy, cut while a stream's media keeps arriving. The queue's connection is the
 * hub's (commands wait in ioredis's offline queue), so an enqueue hangs for the outage.
 */
describe('MediaBatcher through a Redis outage (TcpFaultProxy)', () => {
  const redisUrl = new URL(process.env.REDIS_URL!);
  let proxy: TcpFaultProxy;
  let queue: Queue;
  let dir: string;

  beforeAll(async () => {
    proxy = await new TcpFaultProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) }).start();
    const via = new URL(redisUrl.toString());
    via.hostname = '127.0.0.1';
    via.port = String(proxy.port);
    queue = new Queue('media-batcher-outage', { connection: redisOptionsFromUrl(via.toString()), prefix: process.env.QUEUE_PREFIX });
    queue.on('error', () => undefined); // connection errors are the point of this test
    await queue.waitUntilReady();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'media-spill-e2e-'));
  });

  afterAll(async () => {
    proxy.restore();
    await queue.obliterate({ force: true });
    await queue.close();
    await proxy.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('memory stays within its budget during the outage, the rest spills, and after restore every item is enqueued', async () => {
    const budget = 1_000_000;
    const b = new MediaBatcher(
      { enqueueBatches: async (name: MediaJobName, batches: MediaBatchPayload[]) => void (await queue.addBulk(batches.map((data) => ({ name, data })))) },
      { maxItems: 50, maxBytes: 500_000, flushMs: 50, maxBufferedBytes: budget },
      new MediaSpill(dir, 100e6),
    );
    const ids = { sessionId: 's1', rtmsStreamId: 'outage' };
    const frame = 'F'.repeat(20_000);
    const item = (msgType: number, data: string, timestamp: number): MediaItem => ({ msgType, userId: 1, timestamp, data, receivedAt: Date.now() });

    proxy.cut();
    let maxMem = 0;
    // 1,000 frames (20 MB) and 200 transcript lines arrive during the outage, in bursts.
    for (let ts = 0; ts < 1000; ts++) {
      b.add(ids, JobName.FrameSave, item(15, frame, ts));
      if (ts % 5 === 0) b.add(ids, JobName.TranscriptSave, item(17, `line ${ts}`, ts));
      maxMem = Math.max(maxMem, b.bufferedBytes);
      if (ts % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(maxMem).toBeLessThanOrEqual(budget + frame.length);
    expect(b.spilledBytes).toBeGreaterThan(15e6);
    expect(b.pendingItems()).toBe(1200);

    proxy.restore();
    await waitFor(async () => (await b.flush(), b.pendingItems() === 0), { timeoutMs: 30_000, what: 'every item enqueued after the outage' });
    expect(b.spilledBytes).toBe(0);
    const jobs = await queue.getJobs(['waiting']);
    const count = (name: string) =>
      jobs.filter((j) => j.name === name).reduce((n, j) => n + (j.data as MediaBatchPayload).streams.reduce((m, s) => m + s.items.length, 0), 0);
    expect(count(JobName.FrameSave)).toBe(1000);
    expect(count(JobName.TranscriptSave)).toBe(200);
    await b.close();
  });
});
