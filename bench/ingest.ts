/**
 * npm run bench:ingest — media ingest for ONE worker process (dist/src/main.worker.js,
 * WORKER_QUEUES=rtms-streams,media-frames) against the Zoom simulator (its own process):
 * N concurrent meetings × P participants, audio 20 ms L16 per participant, active-speaker
 * JPEG video at 5 fps, transcript and chat, everything saved (local storage).
 *
 * In the same run, a raw baseline: a minimal `ws` client (this process) that does the
 * handshakes, parses, base64-decodes and appends every media message to one file per
 * stream — the hub's throughput is also reported as a ratio of it.
 *
 * Reported: sustained messages/s and MB/s (saved during the window), message-to-storage
 * latency p50/p99 (Zoom timestamp → durable row; an upper bound of receivedAt → stored
 * since it includes the simulator's send delay), worker CPU per stream, worker RSS,
 * messages lost (simulator sent vs saved, after a drain; must be 0).
 *
 * Env: BENCH_MEETINGS (50), BENCH_PARTICIPANTS (5), BENCH_DURATION_S (30), BENCH_WARMUP_S (10; covers connecting and the simulator's
 * initial audio burst), BENCH_COOLDOWN_S (3; the meetings run on after the window before they are all stopped), BENCH_BATCH_FLUSH_MS (100 = MEDIA_BATCH_FLUSH_MS of the worker),
 * BENCH_AUDIO_SEND_RATE_MS (20; audio packet length for both clients), BENCH_BATCH_MAX_ITEMS (50),
 * BENCH_VIDEO_SCALE (0.1), BENCH_BASELINE (1; 0 skips it), BENCH_MEDIA_CONCURRENCY (32), BENCH_DB_POOL (40),
 * BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_WORKER_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { runMigrations } from '../src/database/migrate';
import { cpuShares, cpuSnapshot, rssMb } from './proc-stats';
import { emptyRawStats, rawClient } from './raw-rtms-client';
import { SimControl, sentTotals, sumValues as sum } from './sim-meetings';
import { BENCH_API_KEY, cpuSeconds, distEntry, freshDatabase, hubEnv, httpOk, obliterateQueues, percentile, ROOT, sleep, startNode, waitFor, waitForSaversToDrain, type Child } from './bench-utils';

const N = Number(process.env.BENCH_MEETINGS ?? 50);
const P = Number(process.env.BENCH_PARTICIPANTS ?? 5);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 30);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 10);
const COOLDOWN_S = Number(process.env.BENCH_COOLDOWN_S ?? 3);
const FLUSH_MS = process.env.BENCH_BATCH_FLUSH_MS ?? '100';
const AUDIO_MS = Number(process.env.BENCH_AUDIO_SEND_RATE_MS ?? 20);
const MAX_ITEMS = process.env.BENCH_BATCH_MAX_ITEMS ?? '50';
const VIDEO_SCALE = Number(process.env.BENCH_VIDEO_SCALE ?? 0.1);
const BASELINE = (process.env.BENCH_BASELINE ?? '1') !== '0';
const MEDIA_CONCURRENCY = process.env.BENCH_MEDIA_CONCURRENCY ?? '32';
const DB_POOL = process.env.BENCH_DB_POOL ?? '40';
const DB_BASE = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const SIM_PORT = Number(process.env.BENCH_SIM_PORT ?? 3911);
const API_PORT = Number(process.env.BENCH_API_PORT ?? 3912);
const WORKER_PORT = Number(process.env.BENCH_WORKER_PORT ?? 3913);
const CREDS = { clientId: 'bench_client_id', clientSecret: 'bench_client_secret', webhook: 'bench_webhook_secret' };
const SIM = `http://127.0.0.1:${SIM_PORT}`;
const OUT = join(ROOT, '.bench', 'ingest');
const simControl = new SimControl(SIM);
const sim = <T>(method: string, path: string, body?: unknown) => simControl.call<T>(method, path, body);

const log = (m: string) => console.log(`[bench:ingest] ${m}`);


// ───────────────────────────── raw baseline ─────────────────────────────

async function runBaseline() {
  const dir = join(OUT, 'raw');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await sim('POST', '/_sim/webhook-target', { url: null });
  const streams = await simControl.startMeetings(N, P, WARMUP_S + DURATION_S + 120);
  const stats = emptyRawStats();
  const clients = streams.map((s) => rawClient(s, dir, stats, { clientId: CREDS.clientId, clientSecret: CREDS.clientSecret, audioMs: AUDIO_MS }));
  await Promise.all(clients.map((c) => c.ready));
  log(`baseline: ${N} streams connected; warm-up ${WARMUP_S} s, then ${DURATION_S} s measured`);
  await sleep(WARMUP_S * 1000);
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  stats.windowOpen = true;
  await sleep(DURATION_S * 1000);
  stats.windowOpen = false;
  const elapsed = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await Promise.all(streams.map((s) => sim('POST', `/_sim/streams/${s.streamId}/stop`, {})));
  await sleep(500);
  for (const c of clients) c.close();
  const sent = sentTotals(await simControl.records(streams));
  const lat = stats.latencies.sort((a, b) => a - b);
  rmSync(dir, { recursive: true, force: true });
  return {
    messages_per_s: Math.round(stats.windowMessages / elapsed),
    mb_per_s: +(stats.windowBytes / elapsed / 1e6).toFixed(2),
    latency_ms: { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] },
    cpu_percent_of_one_core: +(((cpu.user + cpu.system) / 1e6 / elapsed) * 100).toFixed(1),
    sent: sum(sent),
    received: sum(stats.received),
    lost: sum(sent) - sum(stats.received),
  };
}

// ───────────────────────────── the hub ─────────────────────────────

async function runHub(dbUrl: string, prefix: string, simPid: number) {
  const recordings = join(OUT, 'recordings');
  rmSync(recordings, { recursive: true, force: true });
  const common = {
    ...hubEnv({ dbUrl, redisUrl: REDIS_URL, prefix, simBaseUrl: SIM, clientId: CREDS.clientId, clientSecret: CREDS.clientSecret, webhookSecret: CREDS.webhook }),
    RTMS_AUDIO_SEND_RATE_MS: String(AUDIO_MS),
    MEDIA_BATCH_FLUSH_MS: FLUSH_MS,
    MEDIA_BATCH_MAX_ITEMS: MAX_ITEMS,
    STORAGE_LOCAL_DIR: recordings,
    AUDIO_SPOOL_DIR: join(OUT, 'spool'),
    // Save everything: every frame (5 fps), audio per participant, transcript, chat.
    CAPTURE_VIDEO_INTERVAL_MS: '0',
    CAPTURE_DESKSHARE_INTERVAL_MS: '0',
    CAPTURE_AUDIO_MODE: 'per_participant',
  };
  // The API (webhook intake + the zoom-events worker that creates sessions and streams), then the measured worker.
  const api = await startNode(distEntry('main.js'), { ...common, PORT: String(API_PORT), WORKER_QUEUES: 'zoom-events' }, httpOk(`http://127.0.0.1:${API_PORT}/health/live`));
  let worker: Child | null = null;
  try {
    worker = await startNode(
      distEntry('main.worker.js'),
      { ...common, PORT: String(WORKER_PORT), WORKER_QUEUES: 'rtms-streams,media-frames', CONCURRENCY_RTMS_STREAMS: String(Math.max(100, N + 10)), CONCURRENCY_MEDIA_FRAMES: MEDIA_CONCURRENCY, DATABASE_POOL_SIZE: DB_POOL },
      httpOk(`http://127.0.0.1:${WORKER_PORT}/health/live`),
      30000,
      process.env.BENCH_WORKER_NODE_ARGS ? process.env.BENCH_WORKER_NODE_ARGS.split(' ') : [],
    );
    const pid = worker.proc.pid!;
    await sim('POST', '/_sim/webhook-target', { url: `http://127.0.0.1:${API_PORT}/api/v1/webhooks/zoom` });
    const streams = await simControl.startMeetings(N, P, WARMUP_S + DURATION_S + 120);
    await waitFor(
      'every stream connected to the hub',
      async () => (await simControl.records(streams)).every((r) => r.state === 'active' && r.readyAcks.length > 0),
      60000,
    );
    log(`hub: ${N} streams connected to the worker (pid ${pid}); warm-up ${WARMUP_S} s, then ${DURATION_S} s measured`);
    await sleep(WARMUP_S * 1000);

    const db = new Client({ connectionString: dbUrl });
    await db.connect();
    const cpuPids = { worker: pid, simulator: simPid, api: api.proc.pid! };
    const machine0 = cpuSnapshot(cpuPids);
    const cpu0 = cpuSeconds(pid);
    const t0 = new Date();
    let rssMax = 0;
    const rssSamples: number[] = [];
    const rssTimer = setInterval(() => {
      const r = rssMb(pid);
      rssSamples.push(r);
      rssMax = Math.max(rssMax, r);
    }, 1000);
    await sleep(DURATION_S * 1000);
    const t1 = new Date();
    const cpu = cpuSeconds(pid) - cpu0;
    clearInterval(rssTimer);
    const elapsed = (t1.getTime() - t0.getTime()) / 1000;
    const cpuByProcess = cpuShares(machine0, cpuSnapshot(cpuPids), elapsed);
    const media = new Queue('media-frames', { connection: { url: REDIS_URL }, prefix });
    const backlogAtEnd = await media.getJobCounts('waiting', 'active', 'delayed', 'prioritized');

    // Stop every stream, then let the savers drain.
    // The meetings run on a little after the window, so the window's last messages are
    // saved in the steady state rather than during the stop of every meeting at once.
    await sleep(COOLDOWN_S * 1000);
    await Promise.all(streams.map((s) => sim('POST', `/_sim/streams/${s.streamId}/stop`, {})));
    const drainStart = Date.now();
    await waitForSaversToDrain(db, media, 180_000, 250);
    const drainS = (Date.now() - drainStart) / 1000;
    const failedJobs = (await media.getJobCounts('failed')).failed;
    await media.close();
    const sent = sentTotals(await simControl.records(streams));

    const one = async (sql: string, params: unknown[] = []) => (await db.query<Record<string, string | number | null>>(sql, params)).rows[0];
    const saved: Record<number, number> = {
      14: Number((await one(`SELECT coalesce(sum(cardinality(packet_ts)), 0)::bigint AS n FROM audio_parts`)).n),
      15: Number((await one(`SELECT count(*)::bigint AS n FROM media_artifacts WHERE kind = 'video_frame'`)).n),
      16: Number((await one(`SELECT count(*)::bigint AS n FROM media_artifacts WHERE kind = 'share_frame'`)).n),
      17: Number((await one(`SELECT count(*)::bigint AS n FROM transcript_segments`)).n),
      18: Number((await one(`SELECT count(*)::bigint AS n FROM media_artifacts WHERE kind = 'chat'`)).n),
    };
    // Saved during the window (rows are durable at their created_at).
    const win = [t0.toISOString(), t1.toISOString()];
    const w = await one(
      `SELECT
         (SELECT coalesce(sum(cardinality(packet_ts)), 0) FROM audio_parts WHERE created_at >= $1 AND created_at < $2)::bigint AS audio_n,
         (SELECT coalesce(sum(l), 0) FROM audio_parts p, unnest(p.packet_len) AS l WHERE p.created_at >= $1 AND p.created_at < $2)::bigint AS audio_b,
         (SELECT count(*) FROM media_artifacts WHERE kind <> 'audio_segment' AND created_at >= $1 AND created_at < $2)::bigint AS art_n,
         (SELECT coalesce(sum(bytes), 0) FROM media_artifacts WHERE kind <> 'audio_segment' AND created_at >= $1 AND created_at < $2)::bigint AS art_b,
         (SELECT count(*) FROM transcript_segments WHERE created_at >= $1 AND created_at < $2)::bigint AS tr_n`,
      win,
    );
    const windowMessages = Number(w.audio_n) + Number(w.art_n) + Number(w.tr_n);
    const windowBytes = Number(w.audio_b) + Number(w.art_b);
    // Latency of every message sent during the window: Zoom timestamp → durable row.
    const latencyRows = (
      await db.query<{ kind: string; n: string; p50: number; p99: number; max: number }>(
        `WITH l AS (
           SELECT 'audio' AS kind, extract(epoch FROM p.created_at) * 1000 - t AS ms FROM audio_parts p, unnest(p.packet_ts) AS t
            WHERE t >= $3 AND t < $4
           UNION ALL
           SELECT kind, extract(epoch FROM created_at - captured_at) * 1000 FROM media_artifacts
            WHERE kind <> 'audio_segment' AND captured_at >= $1 AND captured_at < $2
           UNION ALL
           SELECT 'transcript', extract(epoch FROM created_at) * 1000 - timestamp_ms FROM transcript_segments WHERE timestamp_ms >= $3 AND timestamp_ms < $4)
         SELECT coalesce(kind, 'all') AS kind, count(*)::bigint AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max
           FROM l GROUP BY ROLLUP (kind)`,
        [...win, t0.getTime(), t1.getTime()],
      )
    ).rows;
    const latOf = (r: { n: string; p50: number; p99: number; max: number } | undefined) =>
      r ? { samples: Number(r.n), p50: Math.round(Number(r.p50)), p99: Math.round(Number(r.p99)), max: Math.round(Number(r.max)) } : null;
    const lat = latOf(latencyRows.find((r) => r.kind === 'all')) ?? { samples: 0, p50: NaN, p99: NaN, max: NaN };
    const latencyByKind = Object.fromEntries(latencyRows.filter((r) => r.kind !== 'all').map((r) => [r.kind, latOf(r)]));
    await db.end();
    // The hub's own receivedAt → stored histogram (cumulative over the run).
    const metrics = await (await fetch(`http://127.0.0.1:${WORKER_PORT}/metrics`, { headers: { 'x-api-key': BENCH_API_KEY } })).text();
    const bucket = (le: string) =>
      [...metrics.matchAll(new RegExp(`rtms_hub_media_save_latency_seconds_bucket\\{[^}]*le="${le.replace('.', '\\.')}"[^}]*\\} (\\d+)`, 'g'))].reduce((a, m) => a + Number(m[1]), 0);
    const hist = { le_100ms: bucket('0.1'), le_250ms: bucket('0.25'), total: bucket('\\+Inf') };
    writeFileSync(join(ROOT, '.bench', 'ingest-worker-metrics.txt'), metrics);
    writeFileSync(join(ROOT, '.bench', 'ingest-worker.log'), worker.output());

    return {
      messages_per_s: Math.round(windowMessages / elapsed),
      mb_per_s: +(windowBytes / elapsed / 1e6).toFixed(2),
      latency_ms: lat,
      latency_ms_by_kind: latencyByKind,
      hub_histogram_receive_to_stored: { ...hist, share_le_250ms: hist.total ? +(hist.le_250ms / hist.total).toFixed(4) : null },
      worker_cpu_percent_of_one_core: +((cpu / elapsed) * 100).toFixed(1),
      cpu_ms_per_stream_per_s: +((cpu * 1000) / elapsed / N).toFixed(2),
      machine_cpu_during_window: cpuByProcess,
      worker_rss_mb: { max: Math.round(rssMax), last: Math.round(rssSamples[rssSamples.length - 1] ?? NaN) },
      media_frames_backlog_at_window_end: backlogAtEnd,
      drain_s: +drainS.toFixed(1),
      failed_jobs: failedJobs,
      sent_by_type: sent,
      saved_by_type: saved,
      sent: sum(sent),
      saved: sum(saved),
      lost: sum(sent) - sum(saved),
    };
  } finally {
    const kill = setTimeout(() => {
      worker?.proc.kill('SIGKILL');
      api.proc.kill('SIGKILL');
    }, 20000);
    await worker?.stop();
    await api.stop();
    clearTimeout(kill);
    rmSync(recordings, { recursive: true, force: true });
    rmSync(join(OUT, 'spool'), { recursive: true, force: true });
    await obliterateQueues(REDIS_URL, prefix, ['zoom-events', 'rtms-streams', 'media-frames']);
  }
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const prefix = `bench-ingest-${randomUUID().slice(0, 8)}`;
  const dbUrl = await freshDatabase(DB_BASE, 'rtms_hub_bench_ingest');
  await runMigrations(dbUrl, () => undefined);
  const simProc = await startNode(
    join(ROOT, 'dist', 'src', 'simulator', 'main.js'),
    {
      SIM_PORT: String(SIM_PORT),
      SIM_CLIENT_ID: CREDS.clientId,
      SIM_CLIENT_SECRET: CREDS.clientSecret,
      SIM_WEBHOOK_SECRET_TOKEN: CREDS.webhook,
      SIM_VIDEO_SCALE: String(VIDEO_SCALE),
      SIM_QUIET: '1',
      SIM_CONCURRENCY_LIMIT: String(Math.max(2000, N * 4)),
    },
    httpOk(`${SIM}/_sim/state`),
  );
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  log(`${N} meetings × ${P} participants, ${DURATION_S} s measured after ${WARMUP_S} s warm-up; load average before: ${load}`);
  try {
    const baseline = BASELINE ? await runBaseline() : null;
    if (baseline) log(`baseline: ${baseline.messages_per_s} msg/s, ${baseline.mb_per_s} MB/s, p99 ${baseline.latency_ms.p99} ms, lost ${baseline.lost}`);
    const hub = await runHub(dbUrl, prefix, simProc.proc.pid!);
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length,
      load_average_before: load,
      meetings: N,
      participants: P,
      duration_s: DURATION_S,
      offered: `audio L16 16 kHz mono ${AUDIO_MS} ms per participant, active-speaker JPEG video 5 fps (video scale ${VIDEO_SCALE}), transcript, chat`,
      hub,
      baseline,
      worker_settings: { MEDIA_BATCH_FLUSH_MS: FLUSH_MS, MEDIA_BATCH_MAX_ITEMS: MAX_ITEMS, CONCURRENCY_MEDIA_FRAMES: MEDIA_CONCURRENCY, DATABASE_POOL_SIZE: DB_POOL, RTMS_AUDIO_SEND_RATE_MS: AUDIO_MS },
      hub_vs_baseline_message_rate: baseline ? +(hub.messages_per_s / baseline.messages_per_s).toFixed(3) : null,
    };
    writeFileSync(join(ROOT, '.bench', 'ingest.json'), JSON.stringify(report, null, 2));
    console.log(JSON.stringify(report, null, 2));
    const ok = hub.lost === 0 && hub.failed_jobs === 0 && hub.latency_ms.p99 < 250 && (!baseline || report.hub_vs_baseline_message_rate! >= 0.5);
    console.log(ok ? 'bench:ingest OK (zero lost, p99 < 250 ms, ≥ 50 % of the raw baseline)' : 'bench:ingest: targets MISSED (see the report)');
    process.exitCode = ok ? 0 : 1;
  } finally {
    await simProc.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
