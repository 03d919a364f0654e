import { TcpFaultProxy } from '../bench/tcp-fault-proxy';
import { useE2eContext } from './utils/e2e-context';
import type { EntrypointProcess } from './utils/processes';
import { waitFor } from './utils/wait-for';

jest.setTimeout(180_000);

const OUTAGE_MS = 3000;

/** pino levels: 40 warn, 50 error, 60 fatal. */
function warnOrWorse(lines: string[]): string[] {
  return lines.filter((l) => {
    try {
      return (JSON.parse(l) as { level?: number }).level! >= 40;
    } catch {
      // Not a pino line (an uncaught stack trace, say): it counts.
      return l.trim().length > 0;
    }
  });
}

/**
 * A real worker process consuming every queue, connected to Redis through a fault proxy.
 * A 3 s Redis outage must leave one line when Redis becomes unreachable and one when it
 * is back (with the outage's duration), not one per queue, client and retry.
 */
describe('Redis outage: one log line when it starts, one when it ends', () => {
  const ctx = useE2eContext({});
  let proxy: TcpFaultProxy;
  let worker: EntrypointProcess;

  beforeAll(async () => {
    const redis = new URL(process.env.REDIS_URL!);
    proxy = await new TcpFaultProxy({ host: redis.hostname, port: Number(redis.port || 6379) }).start();
    redis.host = `127.0.0.1:${proxy.port}`;
    worker = ctx.spawnWorker({ REDIS_URL: redis.toString(), WORKER_QUEUES: '' });
    await waitFor(() => worker.output().includes('listening on port'), { timeoutMs: 120_000, intervalMs: 200, what: 'worker started' }).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${worker.output().slice(-3000)}`);
    });
    // The key-expiry watcher says once per process whether Redis publishes expiries (a
    // warning where it does not, as here). It checks when its connection is first ready,
    // which can be just after boot: wait for that line, or a cut right after boot would
    // count it as the outage's.
    await waitFor(() => /notify-keyspace-events|keyspace notifications for expired keys are on/.test(worker.output()), { timeoutMs: 30_000, intervalMs: 100, what: "the key-expiry watcher's first check" });
  });

  afterAll(async () => {
    await worker?.stop('SIGKILL');
    await proxy?.stop();
  });

  it(`a ${OUTAGE_MS / 1000} s outage writes one warning when it starts and one line when it ends, with its duration`, async () => {
    // Every line the worker writes from the cut on.
    let out = '';
    const collect = (d: Buffer) => (out += d.toString());
    worker.child.stdout!.on('data', collect);
    worker.child.stderr!.on('data', collect);
    try {
      await proxy.outage(OUTAGE_MS);
      const restoredAt = Date.now();
      // Before the fix there is no such line: give the clients 10 s to reconnect and settle, then count.
      await waitFor(() => /redis reachable again/.test(out) || Date.now() - restoredAt > 10_000, { timeoutMs: 15_000, intervalMs: 100, what: 'recovery' });
    } finally {
      worker.child.stdout!.off('data', collect);
      worker.child.stderr!.off('data', collect);
    }
    const lines = out.split('\n').filter((l) => l.trim());
    const loud = warnOrWorse(lines);
    console.log(`Redis outage of ${OUTAGE_MS} ms: ${loud.length} warn/error line(s) from the worker:\n${loud.slice(0, 20).join('\n')}\nend: ${lines.find((l) => l.includes('reachable again')) ?? '(none)'}`);
    expect(loud).toHaveLength(1);
    expect(loud[0]).toMatch(/"level":40.*redis unreachable: /);
    const end = lines.filter((l) => l.includes('redis reachable again'));
    expect(end).toHaveLength(1);
    const m = /redis reachable again after (\d+\.\d) s; (\d+) errors? suppressed/.exec(end[0]);
    expect(m).not.toBeNull();
    // The outage as the worker saw it: from the cut to its clients' reconnection (retries back off up to 2 s).
    expect(Number(m![1])).toBeGreaterThanOrEqual(OUTAGE_MS / 1000 - 0.5);
    expect(Number(m![1])).toBeLessThan(OUTAGE_MS / 1000 + 4);
    expect(Number(m![2])).toBeGreaterThan(10);
    expect(worker.child.exitCode).toBeNull();
  });
});
