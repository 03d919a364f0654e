/**
 * npm run bench:webhooks — acknowledged Zoom webhooks per second for ONE API process,
 * p50/p99 latency, and a loss check: every acknowledged event must be in Postgres and
 * have its zoom-events job in Redis afterwards.
 *
 * Env: BENCH_DURATION_S (15), BENCH_CONNECTIONS (32), BENCH_DATABASE_URL, BENCH_REDIS_URL,
 * BENCH_NODE_ARGS (extra node flags for the API process, e.g. --cpu-prof).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { runMigrations } from '../src/database/migrate';
import { BENCH_API_KEY, distEntry, freshDatabase, httpOk, ROOT, startNode } from './bench-utils';

const SECRET = 'bench_webhook_secret';
const PORT = Number(process.env.BENCH_PORT ?? 3901);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const DB_BASE = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

function signedRequest(): { body: string; headers: Record<string, string> } {
  const streamId = randomUUID().replace(/-/g, '');
  const body = JSON.stringify({
    event: 'meeting.rtms_started',
    event_ts: Date.now(),
    payload: {
      meeting_uuid: `${randomUUID()}==`,
      meeting_id: 80000000000 + Math.floor(Math.random() * 1e9),
      operator_id: 'bench-operator',
      rtms_stream_id: streamId,
      server_urls: 'wss://rtms-bench.zoom.us/signaling',
    },
  });
  const ts = String(Math.floor(Date.now() / 1000));
  const signature = 'v0=' + createHmac('sha256', SECRET).update(`v0:${ts}:${body}`).digest('hex');
  return { body, headers: { 'content-type': 'application/json', 'x-zm-request-timestamp': ts, 'x-zm-signature': signature } };
}

async function main(): Promise<void> {
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const dbUrl = await freshDatabase(DB_BASE, 'rtms_hub_bench');
  await runMigrations(dbUrl, () => undefined);

  const api = await startNode(
    distEntry('main.api.js'),
    {
      NODE_ENV: 'production',
      PORT: String(PORT),
      DATABASE_URL: dbUrl,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      API_KEYS: BENCH_API_KEY,
      ZOOM_WEBHOOK_SECRET_TOKEN: SECRET,
      TOKEN_ENCRYPTION_KEYS: `bench:${Buffer.alloc(32, 7).toString('base64')}`,
      ZOOM_CLIENT_ID: 'bench',
      ZOOM_CLIENT_SECRET: 'bench',
    },
    httpOk(`http://127.0.0.1:${PORT}/health/live`),
    30000,
    // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the API process.
    (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  );

  const url = `http://127.0.0.1:${PORT}/api/v1/webhooks/zoom`;
  let result: autocannon.Result;
  try {
    // Warm-up (JIT, pools), not counted.
    await autocannon({ url, method: 'POST', connections: 8, duration: 2, requests: [{ setupRequest: (req) => ({ ...req, ...signedRequest() }) }] });
    const db = new Client({ connectionString: dbUrl });
    await db.connect();
    await db.query('TRUNCATE session_events CASCADE');
    await db.end();
    const queue = new Queue('zoom-events', { connection: { url: REDIS_URL }, prefix });
    await queue.obliterate({ force: true });
    await queue.close();

    result = await autocannon({
      url,
      method: 'POST',
      connections: CONNECTIONS,
      duration: DURATION_S,
      requests: [{ setupRequest: (req) => ({ ...req, ...signedRequest() }) }],
    });
  } finally {
    const code = await api.stop();
    if (code !== 0) console.error(`API exited with ${code}:\n${api.output().slice(-2000)}`);
  }

  const db = new Client({ connectionString: dbUrl });
  await db.connect();
  const stored = Number((await db.query(`SELECT count(*)::int AS n FROM session_events WHERE source = 'webhook'`)).rows[0].n);
  await db.end();
  const queue = new Queue('zoom-events', { connection: { url: REDIS_URL }, prefix });
  const queued = await queue.getJobCountByTypes('waiting', 'active', 'delayed', 'completed', 'failed');
  await queue.obliterate({ force: true });
  await queue.close();

  const acknowledged = result['2xx'];
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    connections: CONNECTIONS,
    duration_s: DURATION_S,
    acknowledged,
    non_2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    requests_per_s: Math.round(acknowledged / DURATION_S),
    latency_ms: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    stored_events: stored,
    queued_jobs: queued,
    // Requests still in flight when the run ends are stored but not counted as acknowledged.
    lost: Math.max(0, acknowledged - Math.min(stored, queued)),
  };
  mkdirSync(join(ROOT, '.bench'), { recursive: true });
  writeFileSync(join(ROOT, '.bench', 'webhooks.json'), JSON.stringify(report, null, 2));
  console.log(JSON.stringify(report, null, 2));
  const ok = report.lost === 0 && report.non_2xx === 0 && report.errors === 0;
  console.log(ok ? 'bench:webhooks OK (zero lost)' : 'bench:webhooks FAILED: events lost or refused');
  process.exit(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
