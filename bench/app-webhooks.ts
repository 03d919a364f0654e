/**
 * npm run bench:app-webhooks — webhook deliveries per second for ONE worker process
 * (WORKER_QUEUES=app-webhooks) to a fast local receiver, p50/p99 event-to-delivery
 * latency, and a loss check: every message is received once (by webhook-id) by the end.
 *
 * Events are produced as AppEventsService.record does (an app_events row, then its
 * `app-event.fanout` job), at a steady rate, each fanned out to every endpoint. In the
 * same run, a raw baseline POSTs the same number of bodies straight to the receiver with
 * the worker's concurrency (no queue, no database): the hub's figure is read against it.
 *
 * Env: BENCH_DURATION_S (20), BENCH_EVENTS_PER_S (120), BENCH_ENDPOINTS (10),
 * BENCH_CONCURRENCY (100, the worker's CONCURRENCY_APP_WEBHOOKS), BENCH_DATABASE_URL,
 * BENCH_REDIS_URL, BENCH_WORKER_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { TokenCipher } from '../src/common/crypto/token-cipher';
import { runMigrations } from '../src/database/migrate';
import { EndpointSecrets } from '../src/modules/app-webhooks/delivery/endpoint-secrets';
import { newSigningSecret } from '../src/modules/app-webhooks/delivery/webhook-signature';
import { BENCH_API_KEY, cpuSeconds, distEntry, freshDatabase, obliterateQueues, percentile, ROOT, sleep, startNode, waitFor } from './bench-utils';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 20);
const EVENTS_PER_S = Number(process.env.BENCH_EVENTS_PER_S ?? 120);
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const DB_BASE = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const KEY = Buffer.alloc(32, 9);
const TICK_MS = 10;
/** How long the run may take to drain after the last event before what is missing counts as lost. */
const DRAIN_TIMEOUT_MS = 60_000;

interface Receipt {
  latencyMs: number;
}

/** The app's endpoint: answers 204 at once, records first receipts by webhook-id. */
async function startReceiver(): Promise<{ server: http.Server; url: string; receipts: Map<string, Receipt>; duplicates: () => number }> {
  const receipts = new Map<string, Receipt>();
  let duplicates = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(204).end();
      const id = String(req.headers['webhook-id'] ?? '');
      if (!id) return; // the raw baseline
      if (receipts.has(id)) {
        duplicates++;
        return;
      }
      const { timestamp } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { timestamp: string };
      receipts.set(id, { latencyMs: Date.now() - Date.parse(timestamp) });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, receipts, duplicates: () => duplicates };
}

/** The raw baseline: `total` POSTs of `body` with `concurrency` in flight, over keep-alive. */
async function rawBaseline(url: string, body: string, total: number, concurrency: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let sent = 0;
  const started = performance.now();
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) {
        sent++;
        await one();
      }
    }),
  );
  agent.destroy();
  return total / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const prefix = `bench-wh-${randomUUID().slice(0, 8)}`;
  const dbUrl = await freshDatabase(DB_BASE, 'rtms_hub_bench_app_webhooks');
  await runMigrations(dbUrl, () => undefined);
  const db = new Client({ connectionString: dbUrl });
  await db.connect();
  const receiver = await startReceiver();

  // Endpoints, their secrets sealed as the hub seals them.
  const secrets = new EndpointSecrets(new TokenCipher([{ id: 'bench', key: KEY }]));
  for (let i = 0; i < ENDPOINTS; i++) {
    const id = randomUUID();
    await db.query(`INSERT INTO webhook_endpoints (id, url, events, secret_enc) VALUES ($1, $2, $3, $4)`, [id, receiver.url, ['*'], secrets.seal(id, newSigningSecret())]);
  }

  const worker = await startNode(
    distEntry('main.worker.js'),
    {
      NODE_ENV: 'development', // the receiver is on loopback: WEBHOOK_ALLOW_PRIVATE_URLS is refused in production
      PORT: '3911',
      DATABASE_URL: dbUrl,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      API_KEYS: BENCH_API_KEY,
      TOKEN_ENCRYPTION_KEYS: `bench:${KEY.toString('base64')}`,
      WORKER_QUEUES: 'app-webhooks',
      CONCURRENCY_APP_WEBHOOKS: String(CONCURRENCY),
      DATABASE_POOL_SIZE: process.env.BENCH_DB_POOL ?? '10',
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    },
    async () => (await fetch('http://127.0.0.1:3911/health/live')).ok,
    30_000,
    (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean),
  );

  const fanout = new Queue('app-webhooks', { connection: { url: REDIS_URL }, prefix });
  let produced = 0;
  const produce = async (n: number) => {
    const ids = Array.from({ length: n }, () => randomUUID());
    const values = ids.map((_, i) => `($${i + 1}, 'session.status_changed', '{"status":"streaming","session_id":null,"sequence":null}')`).join(', ');
    await db.query(`INSERT INTO app_events (id, type, data) VALUES ${values}`, ids);
    await fanout.addBulk(ids.map((eventId) => ({ name: 'app-event.fanout', data: { eventId }, opts: { jobId: `app-event-${eventId}`, removeOnComplete: true } })));
    produced += n;
  };

  try {
    // Warm-up (JIT, pools, keep-alive sockets), not counted.
    await produce(20);
    await waitFor('the warm-up deliveries', () => receiver.receipts.size >= 20 * ENDPOINTS, 30_000, 50);
    receiver.receipts.clear();
    produced = 0;

    const cpu0 = cpuSeconds(worker.proc.pid as number);
    const started = Date.now();
    let due = 0;
    while (Date.now() - started < DURATION_S * 1000) {
      const target = Math.floor(((Date.now() - started) / 1000) * EVENTS_PER_S);
      if (target > due) {
        const n = target - due;
        due = target;
        await produce(n);
      }
      await sleep(TICK_MS);
    }
    const window = (Date.now() - started) / 1000;
    const inWindow = receiver.receipts.size;
    const expected = produced * ENDPOINTS;
    await waitFor('every message to arrive', () => receiver.receipts.size >= expected, DRAIN_TIMEOUT_MS, 100).catch(() => undefined);
    const drained = (Date.now() - started) / 1000;
    const cpu = cpuSeconds(worker.proc.pid as number) - cpu0;

    const raw = await rawBaseline(receiver.url, JSON.stringify({ type: 'session.status_changed', id: randomUUID(), timestamp: new Date().toISOString(), data: { status: 'streaming' } }), Math.max(expected, 2000), CONCURRENCY);
    const latencies = [...receiver.receipts.values()].map((r) => r.latencyMs).sort((a, b) => a - b);
    const failedAttempts = Number((await db.query(`SELECT count(*)::int AS n FROM webhook_attempts WHERE status_code IS NULL OR status_code >= 300`)).rows[0].n);
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      endpoints: ENDPOINTS,
      worker_concurrency: CONCURRENCY,
      window_s: Math.round(window * 10) / 10,
      offered_deliveries_per_s: EVENTS_PER_S * ENDPOINTS,
      events: produced,
      messages_expected: expected,
      delivered: receiver.receipts.size,
      lost: expected - receiver.receipts.size,
      duplicates: receiver.duplicates(),
      failed_attempts: failedAttempts,
      delivered_in_window_per_s: Math.round(inWindow / window),
      drained_after_s: Math.round(drained * 10) / 10,
      sustained_deliveries_per_s: Math.round(receiver.receipts.size / drained),
      latency_ms: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] },
      worker_cpu_share: Math.round((cpu / drained) * 100) / 100,
      raw_baseline_per_s: Math.round(raw),
      ratio_to_baseline: Math.round((receiver.receipts.size / drained / raw) * 100) / 100,
    };
    mkdirSync(join(ROOT, '.bench'), { recursive: true });
    writeFileSync(join(ROOT, '.bench', 'app-webhooks.json'), JSON.stringify(report, null, 2));
    console.log(JSON.stringify(report, null, 2));
    const ok = report.lost === 0;
    console.log(ok ? 'bench:app-webhooks OK (nothing lost)' : 'bench:app-webhooks FAILED: messages lost');
    process.exitCode = ok ? 0 : 1;
  } finally {
    const code = await worker.stop();
    if (code !== 0) console.error(`worker exited with ${code}:\n${worker.output().slice(-2000)}`);
    await fanout.close();
    await obliterateQueues(REDIS_URL, prefix, ['app-webhooks']);
    await db.end();
    receiver.server.closeAllConnections();
    await new Promise((r) => receiver.server.close(r));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
