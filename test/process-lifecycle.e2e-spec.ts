import { TcpFaultProxy } from '../bench/tcp-fault-proxy';
import { EntrypointProcess, spawnEntrypoint } from './utils/processes';
import { waitFor } from './utils/wait-for';

/** Starts a real entrypoint (TypeScript, transpile-only) with the test env plus overrides. */
const start = spawnEntrypoint;

/** The process exits 0 after its graceful close; when it does not, the failure carries the end of its output (a CI log shows failures, not console output). */
async function expectStoppedCleanly(run: EntrypointProcess): Promise<void> {
  const result = await run.exited;
  if (result.code !== 0 || result.signal !== null || !run.output().includes('stopped cleanly'))
    throw new Error(`the process did not stop cleanly (exit ${JSON.stringify(result)}); the end of its output:\n${run.output().slice(-6000)}`);
}

describe('process lifecycle (real entrypoints)', () => {
  it('WORKER_QUEUES with an unknown queue stops boot naming it', async () => {
    const run = start('main.worker.ts', { WORKER_QUEUES: 'zoom-events,nope' });
    const { code } = await run.exited;
    expect(code).toBe(1);
    expect(run.output()).toContain('WORKER_QUEUES names unknown queue(s): nope');
  });

  it('a bad environment value stops boot naming the variable', async () => {
    const run = start('main.api.ts', { PORT: 'eighty', REDIS_URL: 'http://wrong' });
    const { code } = await run.exited;
    expect(code).toBe(1);
    expect(run.output()).toContain('PORT');
    expect(run.output()).toContain('REDIS_URL must be a redis:// or rediss:// URL');
  });

  it('a missing required value stops boot naming the variable', async () => {
    const run = start('main.api.ts', { DATABASE_URL: '' });
    const { code } = await run.exited;
    expect(code).toBe(1);
    expect(run.output()).toContain('DATABASE_URL');
  });

  it('SIGTERM drains a worker and exits 0', async () => {
    const run = start('main.worker.ts', { WORKER_QUEUES: 'zoom-events', PORT: '0' });
    try {
      await waitFor(() => run.output().includes('listening on port'), { timeoutMs: 30000, what: 'worker to boot' });
      run.child.kill('SIGTERM');
      await expectStoppedCleanly(run);
    } finally {
      await run.stop('SIGKILL');
    }
  });

  // A worker stopped during a Redis outage (or a failover) waits, up to SHUTDOWN_TIMEOUT_MS,
  // for Redis to take its last commands, then stops cleanly. Its connections between two
  // reconnect attempts used to never close (disconnect-while-reconnecting.ts): the close
  // hung even after Redis was back and, with no handle left, the process drained its event
  // loop and exited 0 without ever finishing the close.
  it('SIGTERM during a Redis outage: the worker waits for Redis and, once it is back, stops cleanly', async () => {
    const redis = new URL(process.env.REDIS_URL!);
    const proxy = await new TcpFaultProxy({ host: redis.hostname, port: Number(redis.port || 6379) }).start();
    redis.host = `127.0.0.1:${proxy.port}`;
    const run = start('main.worker.ts', { REDIS_URL: redis.toString(), PORT: '0', SHUTDOWN_TIMEOUT_MS: '60000' });
    try {
      await waitFor(() => run.output().includes('listening on port'), { timeoutMs: 60000, what: 'worker to boot' });
      proxy.cut();
      await waitFor(() => run.output().includes('redis unreachable'), { timeoutMs: 30000, what: 'the worker to notice the outage' });
      run.child.kill('SIGTERM');
      await waitFor(() => run.output().includes('SIGTERM received'), { timeoutMs: 10000, what: 'the worker to start closing' });
      proxy.restore();
      await expectStoppedCleanly(run);
    } finally {
      await run.stop('SIGKILL');
      await proxy.stop();
    }
  });
});
