import type { Worker } from 'bullmq';
import { TcpFaultProxy } from '../bench/tcp-fault-proxy';
import { ALL_QUEUES } from '../src/jobs/queue-names';
import { startTestApp, TestApp, workersOf } from './utils/test-app';
import { waitFor } from './utils/wait-for';

jest.setTimeout(120_000);

/** How long a close may take while Redis is away (every step is bounded well below it). */
const CLOSE_DEADLINE_MS = 30_000;

/** What a worker's blocking connection (the one BullMQ disconnects and waits on to close) is doing. */
function blockingStatus(worker: Worker): string | undefined {
  return (worker as unknown as { blockingConnection?: { _client?: { status?: string } } }).blockingConnection?._client?.status;
}

/**
 * A worker asked to stop while Redis is away (an outage, or a failover that has not
 * finished) must still stop: a SIGTERM that never returns blocks a rolling deploy, and an
 * orchestrator's SIGKILL then loses what the shutdown path would have handed back.
 * BullMQ closes a worker by disconnecting its blocking connection and waiting for it to
 * end, which ioredis never did for a connection between two reconnect attempts
 * (disconnect-while-reconnecting.ts): the close hung for ever (seen on CI after a
 * Sentinel failover test, 150 s and then > 80 min).
 */
describe('Shutdown while Redis is unreachable', () => {
  let proxy: TcpFaultProxy;
  let hub: TestApp | undefined;

  beforeAll(async () => {
    const redis = new URL(process.env.REDIS_URL!);
    proxy = await new TcpFaultProxy({ host: redis.hostname, port: Number(redis.port || 6379) }).start();
    redis.host = `127.0.0.1:${proxy.port}`;
    hub = await startTestApp({ api: false, worker: { queues: [...ALL_QUEUES], explicit: false } }, { REDIS_URL: redis.toString() });
  });

  afterAll(async () => {
    proxy?.restore();
    await hub?.close();
    await proxy?.stop();
  });

  it('a worker consuming every queue closes within seconds while all its connections wait to reconnect', async () => {
    const app = hub!;
    const workers = workersOf(app.app);
    expect(workers.length).toBe(ALL_QUEUES.length);
    await waitFor(() => workers.every((w) => blockingStatus(w) === 'ready'), { timeoutMs: 30_000, intervalMs: 50, what: "every worker's blocking connection ready" });

    proxy.cut();
    // Refused at once, the connections spend their time between attempts (backing off up to 2 s):
    // the close starts when every blocking connection is there.
    await waitFor(() => workers.every((w) => blockingStatus(w) === 'reconnecting'), { timeoutMs: 30_000, intervalMs: 5, what: "every worker's blocking connection waiting to reconnect" });
    const startedAt = Date.now();
    const closing = app.close();
    hub = undefined;
    const closed = await Promise.race([closing.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), CLOSE_DEADLINE_MS).unref())]);
    const pending = app.pendingShutdownHooks();
    console.log(`shutdown with Redis unreachable: ${closed ? `closed in ${Date.now() - startedAt} ms` : `still closing after ${CLOSE_DEADLINE_MS} ms, waiting on ${pending.join(', ')}`}`);
    expect(pending).toEqual([]);
    expect(closed).toBe(true);
  });
});
