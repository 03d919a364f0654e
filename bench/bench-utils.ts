import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { Client } from 'pg';

/** The repository root, whether this runs from bench/ (ts-node) or dist/bench/ (built). */
export const ROOT = basename(join(__dirname, '..')) === 'dist' ? join(__dirname, '..', '..') : join(__dirname, '..');

/** Path of a compiled entrypoint (benchmarks measure the built code, as production runs it). */
export function distEntry(rel: string): string {
  return join(ROOT, 'dist', 'src', rel);
}

/**
 * Node flags hub processes run with in production (package.json start scripts, the
 * Dockerfile's NODE_OPTIONS): benchmarks start the API and workers the same way.
 */
export const HUB_NODE_ARGS = ['--max-semi-space-size=64'];

/** Drops and recreates a scratch database for a benchmark run. */
export async function freshDatabase(baseUrl: string, name: string): Promise<string> {
  const admin = new URL(baseUrl);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** True once GET url answers 2xx. */
export function httpOk(url: string): () => Promise<boolean> {
  return async () => (await fetch(url)).ok;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` every `intervalMs` until it is true; throws after `timeoutMs`. */
export async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.resolve().then(probe).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** CPU seconds (user + system) of a process, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The pid in a stream row's owner_worker_id (`host:pid:random`). */
export const ownerPid = (workerId: string | null): number | null => (workerId ? Number(workerId.split(':').at(-2)) : null);

/** The API key every benchmark's hub accepts. */
export const BENCH_API_KEY = 'bench-api-key-0123456789abcdef0123456789';

/**
 * The env every hub process of a benchmark shares (loopback only, warn logs). Not
 * NODE_ENV=production: the simulator speaks http:// and ws://, which production refuses
 * at boot; in the hub NODE_ENV gates only those development-only switches.
 */
export function hubEnv(o: { dbUrl: string; redisUrl: string; prefix: string; simBaseUrl: string; clientId: string; clientSecret: string; webhookSecret: string }): Record<string, string> {
  return {
    NODE_ENV: 'development',
    DATABASE_URL: o.dbUrl,
    REDIS_URL: o.redisUrl,
    QUEUE_PREFIX: o.prefix,
    LOG_LEVEL: 'warn',
    API_KEYS: BENCH_API_KEY,
    TOKEN_ENCRYPTION_KEYS: `bench:${Buffer.alloc(32, 7).toString('base64')}`,
    ZOOM_CLIENT_ID: o.clientId,
    ZOOM_CLIENT_SECRET: o.clientSecret,
    ZOOM_WEBHOOK_SECRET_TOKEN: o.webhookSecret,
    ZOOM_API_BASE_URL: `${o.simBaseUrl}/v2`,
    ZOOM_OAUTH_BASE_URL: o.simBaseUrl,
    RTMS_ALLOWED_HOSTS: '127.0.0.1',
    RTMS_ALLOW_INSECURE_WS: 'true',
  };
}

/** Removes a benchmark's BullMQ queues (jobs, locks, events) from Redis. */
export async function obliterateQueues(redisUrl: string, prefix: string, names: string[]): Promise<void> {
  await Promise.all(
    names.map(async (name) => {
      const q = new Queue(name, { connection: { url: redisUrl }, prefix });
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close();
    }),
  );
}

export interface Child {
  proc: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (null when a signal ended it) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM) unless the process has exited, and resolves with its exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Starts a node process and resolves once `ready()` is true (e.g. its /health/live answers). */
export async function startNode(script: string, env: Record<string, string>, ready: () => Promise<boolean>, timeoutMs = 30000, nodeArgs: string[] = []): Promise<Child> {
  const proc = spawn(process.execPath, [...nodeArgs, script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + timeoutMs;
  while (!(await ready().catch(() => false))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${script} did not become ready:\n${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    output: () => out,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return (await exited).code;
    },
  };
}

/**
 * A private redis-server on a loopback port (no persistence), optionally publishing
 * expired-key events as the compose file's Redis does (crash takeover is noticed at once).
 */
export async function startPrivateRedis(port: number, o: { keyspaceEvents: boolean }): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--notify-keyspace-events', o.keyspaceEvents ? 'Ex' : ''];
  const proc = spawn('redis-server', args, { stdio: 'ignore' });
  await waitFor(
    'private redis-server up',
    async () => {
      const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    },
    10000,
    100,
  );
  return proc;
}

/**
 * Waits until everything sent so far is saved or lost: the media-frames queue is empty
 * and no audio segment is still open.
 */
export async function waitForSaversToDrain(db: Client, mediaFrames: Queue, timeoutMs = 180_000, intervalMs = 500): Promise<void> {
  await waitFor(
    'the savers to drain',
    async () => {
      const c = await mediaFrames.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      const open = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audio_segments WHERE status = 'open'`);
      return c.waiting + c.active + c.delayed + c.prioritized === 0 && open.rows[0].n === 0;
    },
    timeoutMs,
    intervalMs,
  );
}
