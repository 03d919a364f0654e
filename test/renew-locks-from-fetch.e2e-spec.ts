import { Job, Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { renewLocksFromFetch } from '../src/jobs/renew-locks-from-fetch';
import { waitFor } from './utils/wait-for';

/**
 * A burst of jobs on a worker with a short lock (the stream jobs' case: 1.6 s), against
 * real BullMQ and Redis. Each fetch is slowed to 60 ms (a busy host's round trip), so the
 * worker needs ≈ 2.4 s to fetch 40 jobs before it starts the first: longer than the 1 s lock.
 * Without renewal from fetch the first jobs start with their lock gone; with it, every job
 * starts holding its lock.
 */
describe('renewLocksFromFetch: a burst of jobs outlasting the lock', () => {
  const JOBS = 40;
  const LOCK_MS = 1000;
  const FETCH_DELAY_MS = 60;
  const connection = { url: process.env.REDIS_URL, maxRetriesPerRequest: null };
  const prefix = `${process.env.QUEUE_PREFIX}-fetch-burst`;
  let redis: Redis;
  let queue: Queue | undefined;
  let worker: Worker | undefined;

  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL!);
  });
  afterEach(async () => {
    await worker?.close();
    await queue?.obliterate({ force: true });
    await queue?.close();
    worker = undefined;
    queue = undefined;
  });
  afterAll(async () => {
    await redis.quit();
  });

  /** Runs the burst; per job, whether its lock was still its own when processing started. */
  async function burst(name: string, renewFromFetch: boolean): Promise<{ heldAtStart: boolean[]; startedAfterFetchMs: number[] }> {
    queue = new Queue(name, { connection, prefix });
    await queue.addBulk(Array.from({ length: JOBS }, (_, i) => ({ name: 'burst', data: { i } })));
    const heldAtStart: boolean[] = [];
    const startedAfterFetchMs: number[] = [];
    const processor = async (job: Job, token?: string): Promise<void> => {
      startedAfterFetchMs.push(Date.now() - (job.processedOn ?? Date.now()));
      heldAtStart.push((await redis.get(`${prefix}:${name}:${job.id}:lock`)) === token);
    };
    worker = new Worker(name, processor, { connection, prefix, concurrency: JOBS, lockDuration: LOCK_MS, lockRenewTime: LOCK_MS / 2, stalledInterval: 60_000, autorun: false });
    const slowed = worker as unknown as { moveToActive(...args: unknown[]): Promise<unknown> };
    const fetch = slowed.moveToActive.bind(worker);
    slowed.moveToActive = async (...args) => {
      const job = await fetch(...args);
      await new Promise((r) => setTimeout(r, FETCH_DELAY_MS));
      return job;
    };
    if (renewFromFetch) expect(renewLocksFromFetch(worker)).toBe(true);
    void worker.run();
    await waitFor(() => heldAtStart.length === JOBS || undefined, { timeoutMs: 20_000, what: `all ${JOBS} jobs started` });
    return { heldAtStart, startedAfterFetchMs };
  }

  it('without it, the first jobs of the burst start with their lock gone (the failure this prevents)', async () => {
    const { heldAtStart, startedAfterFetchMs } = await burst('burst-plain', false);
    expect(Math.max(...startedAfterFetchMs)).toBeGreaterThan(LOCK_MS);
    expect(heldAtStart.filter((held) => !held).length).toBeGreaterThan(0);
  });

  it('with it, every job of the burst starts holding its lock', async () => {
    const { heldAtStart, startedAfterFetchMs } = await burst('burst-renewed', true);
    expect(Math.max(...startedAfterFetchMs)).toBeGreaterThan(LOCK_MS);
    expect(heldAtStart.filter((held) => !held)).toEqual([]);
  });
});
