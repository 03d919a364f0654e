/**
 * npm run bench:capacity — how many meetings one stream worker process really carries.
 *
 * 1. **Load generator cost**: the Zoom simulator (its own process) at BENCH_GEN_MEETINGS × P
 *    (50 × 5) with raw baseline clients, once with every media message stringified and written on
 *    its own (SIM_MEDIA_ENCODING=json, the simulator before issue 20) and once pre-encoded
 *    (prebuilt, the default); its CPU from /proc.
 * 2. **Raw baseline ramp**: the minimal `ws` client of bench:ingest (bench/raw-rtms-client.ts,
 *    in this process) at 25, 50, 75 … meetings × P, until it misses p99 < 250 ms (Zoom
 *    timestamp → received) or loses a message.
 * 3. **Hub ramp**: ONE worker process (`rtms-streams,media-frames`, everything saved as in
 *    bench:ingest) and an API process (webhooks, `zoom-events`), the same steps, until p99
 *    (Zoom timestamp → durable row, as bench:ingest measures it) reaches 250 ms, a message is
 *    lost (sent − saved after the savers drain), a media job fails, or not every stream connects.
 *
 * Each step starts fresh meetings, waits until all stream, warms up, measures a steady window,
 * then pauses them, stops them once the receiver has taken everything sent, and (hub) waits for
 * the savers to drain. Reported per step: msg/s,
 * MB/s, p50/p99, lost, CPU of the client (baseline: this process; hub: the worker, with the API,
 * simulator, Postgres and Redis beside it), worker RSS and RSS per stream; the largest passing
 * load of each; hub CPU per 1,000 msg/s as a ratio to the baseline's at the same loads.
 *
 * BENCH_PROFILE=realistic: frames at 640×360 (the hub asks for resolution 2, 1280×720, so the
 * simulator's video scale is 0.5) with camera grain (SIM_VIDEO_GRAIN: ≈ 23 KB per JPEG, as a
 * camera's, where a flat synthetic picture is ≈ 7–10 KB), and the hub ramp runs twice: local disk, then a local S3
 * server (s3rver, its own process); MB/s saved is the figure to read.
 *
 * Env: BENCH_PROFILE (default | realistic), BENCH_STEPS (25,50,…,200; realistic 25,50,75,100),
 * BENCH_PARTICIPANTS (5), BENCH_WARMUP_S (4), BENCH_STEADY_S (10), BENCH_MAX_S (540: no new step
 * starts after that many seconds), BENCH_GEN_MEETINGS (50; 0 skips part 1), BENCH_GEN_S (10),
 * BENCH_BASELINE (1; 0 skips part 2), BENCH_HUB (1; 0 skips part 3), BENCH_VIDEO_FORMAT (jpeg | h264: the hub captures
 * H.264 segments, CAPTURE_VIDEO_FORMAT, and the raw client asks for codec 7 too), BENCH_VIDEO_FPS (5; h264 25),
 * BENCH_MEDIA_DIR (.bench/capacity: where both write media; see MEDIA_DIR), BENCH_VIDEO_SCALE (0.1;
 * realistic 0.5), BENCH_VIDEO_GRAIN (0; realistic 1), BENCH_STORAGES (local; realistic local,s3), BENCH_P99_MS (250),
 * BENCH_RETRIES (1: a step that misses on latency alone, nothing lost, runs once more — the machine is
 * shared), BENCH_DATABASE_URL, BENCH_DATABASE_NAME (rtms_hub_bench_capacity), BENCH_REDIS_URL, BENCH_WORKER_NODE_ARGS and BENCH_SIM_NODE_ARGS (e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { runMigrations } from '../src/database/migrate';
import { cpuShares, cpuSnapshot, rssMb, threadCpu, threadShares } from './proc-stats';
import { emptyRawStats, rawClient } from './raw-rtms-client';
import { SimControl, sentTotals, sumValues as sum, type StreamSummary } from './sim-meetings';
import { cpuSeconds, distEntry, freshDatabase, HUB_NODE_ARGS, hubEnv, httpOk, obliterateQueues, percentile, ROOT, sleep, startNode, waitFor, waitForSaversToDrain, type Child } from './bench-utils';

const REALISTIC = process.env.BENCH_PROFILE === 'realistic';
const STEPS = (process.env.BENCH_STEPS ?? (REALISTIC ? '25,50,75,100' : '25,50,75,100,125,150,175,200')).split(',').map(Number).filter((n) => n > 0);
const P = Number(process.env.BENCH_PARTICIPANTS ?? 5);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 4);
const STEADY_S = Number(process.env.BENCH_STEADY_S ?? 10);
const MAX_S = Number(process.env.BENCH_MAX_S ?? 540);
const GEN_MEETINGS = Number(process.env.BENCH_GEN_MEETINGS ?? 50);
const GEN_S = Number(process.env.BENCH_GEN_S ?? 10);
const BASELINE = (process.env.BENCH_BASELINE ?? '1') !== '0';
const HUB = (process.env.BENCH_HUB ?? '1') !== '0';
/** jpeg (one file per frame, as before) or h264 (the hub captures 2 s segments: CAPTURE_VIDEO_FORMAT). */
const VIDEO_FORMAT = (process.env.BENCH_VIDEO_FORMAT ?? 'jpeg') as 'jpeg' | 'h264';
const VIDEO_FPS = Number(process.env.BENCH_VIDEO_FPS ?? (VIDEO_FORMAT === 'h264' ? 25 : 5));
const RAW_VIDEO = { codec: VIDEO_FORMAT === 'h264' ? 7 : 5, fps: VIDEO_FPS };
const VIDEO_SCALE = Number(process.env.BENCH_VIDEO_SCALE ?? (REALISTIC ? 0.5 : 0.1));
const GRAIN = (process.env.BENCH_VIDEO_GRAIN ?? (REALISTIC ? '1' : '0')) !== '0';
const STORAGES = (process.env.BENCH_STORAGES ?? (REALISTIC ? 'local,s3' : 'local')).split(',') as Array<'local' | 's3'>;
const P99_MS = Number(process.env.BENCH_P99_MS ?? 250);
const RETRIES = Number(process.env.BENCH_RETRIES ?? 1);
const AUDIO_MS = 20;
const DB_BASE = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The scratch database (dropped and recreated): its own name lets two runs share one Postgres. */
const DB_NAME = process.env.BENCH_DATABASE_NAME ?? 'rtms_hub_bench_capacity';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const SIM_PORT = Number(process.env.BENCH_SIM_PORT ?? 3951);
const API_PORT = Number(process.env.BENCH_API_PORT ?? 3952);
const WORKER_PORT = Number(process.env.BENCH_WORKER_PORT ?? 3953);
const S3_PORT = Number(process.env.BENCH_S3_PORT ?? 3954);
const CREDS = { clientId: 'bench_client_id', clientSecret: 'bench_client_secret', webhook: 'bench_webhook_secret' };
const SIM = `http://127.0.0.1:${SIM_PORT}`;
const OUT = join(ROOT, '.bench', 'capacity');
/**
 * Where the media goes (the raw client's files, the hub's recordings and audio spool).
 * On a journal-less ext4 (this VM's disk), creating a file soon after many deletions scans
 * inode tables for recently deleted inodes: the hub's one-file-per-frame then costs ~1 ms
 * of kernel time per file, varying run to run. BENCH_MEDIA_DIR=/dev/shm/… takes the disk out.
 */
const MEDIA_DIR = process.env.BENCH_MEDIA_DIR ?? OUT;
const simControl = new SimControl(SIM);
const started = Date.now();
const elapsedS = () => (Date.now() - started) / 1000;
const log = (m: string) => console.log(`[bench:capacity ${elapsedS().toFixed(0).padStart(3)} s] ${m}`);
const pct = (cpuS: number, wallS: number) => +((cpuS / wallS) * 100).toFixed(1);
/** Seconds the meetings of a step are scripted to last (they are stopped long before). */
const MEETING_S = 600;

// ───────────────────────────── the simulator ─────────────────────────────

async function startSimulator(encoding: 'json' | 'prebuilt'): Promise<Child> {
  return startNode(
    join(ROOT, 'dist', 'src', 'simulator', 'main.js'),
    {
      SIM_PORT: String(SIM_PORT),
      SIM_CLIENT_ID: CREDS.clientId,
      SIM_CLIENT_SECRET: CREDS.clientSecret,
      SIM_WEBHOOK_SECRET_TOKEN: CREDS.webhook,
      SIM_VIDEO_SCALE: String(VIDEO_SCALE),
      SIM_VIDEO_GRAIN: GRAIN ? '1' : '0',
      SIM_MEDIA_ENCODING: encoding,
      SIM_QUIET: '1',
      SIM_CONCURRENCY_LIMIT: '5000',
    },
    httpOk(`${SIM}/_sim/state`),
    30000,
    process.env.BENCH_SIM_NODE_ARGS ? process.env.BENCH_SIM_NODE_ARGS.split(' ') : [],
  );
}

// ───────────────────────────── raw baseline ─────────────────────────────

interface BaselineStep {
  meetings: number;
  retried?: boolean;
  pass: boolean;
  why?: string;
  messages_per_s: number;
  mb_per_s: number;
  latency_ms: { p50: number; p99: number; max: number };
  lost: number;
  client_cpu_percent: number;
  simulator_cpu_percent: number;
  client_cpu_per_1000_msg_s: number;
}

/** N meetings with raw clients: connect, warm up, measure `steadyS`, stop. */
async function baselineStep(n: number, simPid: number, steadyS: number): Promise<BaselineStep> {
  const dir = join(MEDIA_DIR, 'raw');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await simControl.setWebhookTarget(null);
  const streams = await simControl.startMeetings(n, P, MEETING_S);
  const stats = emptyRawStats();
  const clients = streams.map((s) => rawClient(s, dir, stats, { clientId: CREDS.clientId, clientSecret: CREDS.clientSecret, audioMs: AUDIO_MS, video: RAW_VIDEO }));
  try {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('not every stream connected within 60 s')), 60_000)));
    await Promise.race([Promise.all(clients.map((c) => c.ready)), timeout]).finally(() => clearTimeout(timer));
    await sleep(WARMUP_S * 1000);
    const cpu0 = process.cpuUsage();
    const sim0 = cpuSeconds(simPid);
    const t0 = Date.now();
    stats.windowOpen = true;
    await sleep(steadyS * 1000);
    stats.windowOpen = false;
    const wall = (Date.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const simCpu = cpuSeconds(simPid) - sim0;
    await settle(streams, async () => stats.messages);
    const sent = sum(sentTotals(await simControl.records(streams)));
    const lat = stats.latencies.sort((a, b) => a - b);
    const msgs = Math.round(stats.windowMessages / wall);
    const clientCpu = pct((cpu.user + cpu.system) / 1e6, wall);
    const lost = sent - sum(stats.received);
    const latency = { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? NaN };
    const why = lost !== 0 ? `${lost} lost` : !(latency.p99 < P99_MS) ? `p99 ${latency.p99} ms` : undefined;
    return {
      meetings: n,
      pass: !why,
      why,
      messages_per_s: msgs,
      mb_per_s: +(stats.windowBytes / wall / 1e6).toFixed(2),
      latency_ms: latency,
      lost,
      client_cpu_percent: clientCpu,
      simulator_cpu_percent: pct(simCpu, wall),
      client_cpu_per_1000_msg_s: +(clientCpu / (msgs / 1000)).toFixed(2),
    };
  } catch (err) {
    await simControl.stopAll(streams).catch(() => undefined);
    return { meetings: n, pass: false, why: (err as Error).message, messages_per_s: 0, mb_per_s: 0, latency_ms: { p50: NaN, p99: NaN, max: NaN }, lost: NaN, client_cpu_percent: NaN, simulator_cpu_percent: NaN, client_cpu_per_1000_msg_s: NaN };
  } finally {
    for (const c of clients) c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ───────────────────────────── the hub ─────────────────────────────

interface HubStep {
  meetings: number;
  /** A first attempt that missed on latency alone; the next entry is its repeat. */
  retried?: boolean;
  storage: string;
  pass: boolean;
  why?: string;
  connect_s?: number;
  messages_per_s?: number;
  mb_per_s?: number;
  latency_ms?: { p50: number; p99: number; max: number };
  latency_p99_by_kind?: Record<string, number>;
  sent?: number;
  lost?: number;
  failed_jobs?: number;
  drain_s?: number;
  worker_cpu_percent?: number;
  worker_cpu_per_1000_msg_s?: number;
  /** The worker's CPU by thread name (main = the event loop; proc-stats.ts threadCpu), % of one core. */
  worker_cpu_by_thread?: Record<string, { percent: number; kernel_percent: number }>;
  cpu_during_window?: Record<string, number | string>;
  worker_rss_mb?: number;
  rss_per_stream_mb?: number;
  simulator_cpu_percent?: number;
}

async function savedTotal(db: Client): Promise<number> {
  const r = await db.query<{ n: string }>(
    `SELECT ((SELECT coalesce(sum(cardinality(packet_ts)), 0) FROM audio_parts)
           + (SELECT count(*) FROM media_artifacts WHERE kind IN ('video_frame', 'share_frame', 'chat'))
           + (SELECT coalesce(sum((meta->>'frames')::int), 0) FROM media_artifacts WHERE kind IN ('video_segment', 'share_segment'))
           -- H.264 units before a track's first keyframe cannot be decoded: not stored, by design, and each wait is on the timeline.
           + (SELECT coalesce(sum((payload->>'dropped_units')::int), 0) FROM session_events WHERE event_type = 'video.keyframe_wait')
           + (SELECT count(*) FROM transcript_segments))::bigint AS n`,
  );
  return Number(r.rows[0].n);
}

async function hubRamp(dbUrl: string, prefix: string, simPid: number, storage: 'local' | 's3'): Promise<{ steps: HubStep[]; idle_rss_mb: number }> {
  const recordings = join(MEDIA_DIR, `recordings-${storage}`);
  rmSync(recordings, { recursive: true, force: true });
  let s3: Child | null = null;
  const storageEnv: Record<string, string> = { STORAGE_LOCAL_DIR: recordings };
  if (storage === 's3') {
    s3 = await startNode(join(ROOT, 'dist', 'bench', 's3-server.js'), { S3_PORT: String(S3_PORT), S3_DIR: recordings, S3_BUCKET: 'bench-media' }, async () => (await fetch(`http://127.0.0.1:${S3_PORT}/`)).status < 500);
    Object.assign(storageEnv, { STORAGE_DRIVER: 's3', S3_BUCKET: 'bench-media', S3_PREFIX: 'hub', S3_ENDPOINT: `http://127.0.0.1:${S3_PORT}`, S3_FORCE_PATH_STYLE: 'true', S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' });
  }
  const common = {
    ...hubEnv({ dbUrl, redisUrl: REDIS_URL, prefix, simBaseUrl: SIM, clientId: CREDS.clientId, clientSecret: CREDS.clientSecret, webhookSecret: CREDS.webhook }),
    RTMS_AUDIO_SEND_RATE_MS: String(AUDIO_MS),
    MEDIA_BATCH_FLUSH_MS: '100',
    AUDIO_SPOOL_DIR: join(MEDIA_DIR, `spool-${storage}`),
    CAPTURE_VIDEO_INTERVAL_MS: '0',
    ...(VIDEO_FORMAT === 'h264' ? { CAPTURE_VIDEO_FORMAT: 'h264', CAPTURE_VIDEO_FPS: String(VIDEO_FPS) } : {}),
    CAPTURE_DESKSHARE_INTERVAL_MS: '0',
    CAPTURE_AUDIO_MODE: 'per_participant',
    ...storageEnv,
  };
  const steps: HubStep[] = [];
  let api: Child | null = null;
  let worker: Child | null = null;
  const db = new Client({ connectionString: dbUrl });
  await db.connect();
  const media = new Queue('media-frames', { connection: { url: REDIS_URL }, prefix });
  try {
    api = await startNode(distEntry('main.js'), { ...common, PORT: String(API_PORT), WORKER_QUEUES: 'zoom-events' }, httpOk(`http://127.0.0.1:${API_PORT}/health/live`), 60000, HUB_NODE_ARGS);
    worker = await startNode(
      distEntry('main.worker.js'),
      { ...common, PORT: String(WORKER_PORT), WORKER_QUEUES: 'rtms-streams,media-frames', CONCURRENCY_RTMS_STREAMS: String(Math.max(...STEPS) + 10), CONCURRENCY_MEDIA_FRAMES: '32', DATABASE_POOL_SIZE: '40' },
      httpOk(`http://127.0.0.1:${WORKER_PORT}/health/live`),
      60000,
      [...HUB_NODE_ARGS, ...(process.env.BENCH_WORKER_NODE_ARGS ? process.env.BENCH_WORKER_NODE_ARGS.split(' ') : [])],
    );
    const pid = worker.proc.pid!;
    await sleep(2000);
    const idleRss = rssMb(pid);
    await simControl.setWebhookTarget(`http://127.0.0.1:${API_PORT}/api/v1/webhooks/zoom`);
    for (const n of STEPS) {
      if (elapsedS() > MAX_S) {
        log(`hub (${storage}): time budget (${MAX_S} s) spent, ${n} meetings not tried`);
        break;
      }
      const pids: Record<string, number> = { worker: pid, api: api.proc.pid!, simulator: simPid, ...(s3 ? { s3_server: s3.proc.pid! } : {}) };
      let step = await hubStep(n, storage, db, media, pids, idleRss);
      if (!step.pass && step.lost === 0 && !step.failed_jobs && RETRIES > 0) {
        log(`hub (${storage}) ${n} × ${P}: ${step.why}; once more (the machine is shared)`);
        steps.push({ ...step, retried: true });
        step = await hubStep(n, storage, db, media, pids, idleRss);
      }
      steps.push(step);
      log(`hub (${storage}) ${n} × ${P}: ${step.pass ? 'PASS' : `FAIL (${step.why})`} ${step.messages_per_s ?? '-'} msg/s, ${step.mb_per_s ?? '-'} MB/s, p50/p99 ${step.latency_ms?.p50 ?? '-'}/${step.latency_ms?.p99 ?? '-'} ms, lost ${step.lost ?? '-'}, worker ${step.worker_cpu_percent ?? '-'} % (${Object.entries(step.worker_cpu_by_thread ?? {}).map(([t, c]) => `${t} ${c.percent}`).join(', ')}), RSS ${step.worker_rss_mb ?? '-'} MB`);
      if (!step.pass) break;
    }
    writeFileSync(join(ROOT, '.bench', `capacity-worker-${storage}.log`), worker.output().slice(-200_000));
    return { steps, idle_rss_mb: Math.round(idleRss) };
  } finally {
    await simControl.setWebhookTarget(null).catch(() => undefined);
    const kill = setTimeout(() => {
      worker?.proc.kill('SIGKILL');
      api?.proc.kill('SIGKILL');
    }, 20000);
    await worker?.stop();
    await api?.stop();
    clearTimeout(kill);
    await s3?.stop();
    await media.close();
    await db.end();
    rmSync(recordings, { recursive: true, force: true });
    rmSync(join(MEDIA_DIR, `spool-${storage}`), { recursive: true, force: true });
  }
}

async function hubStep(n: number, storage: string, db: Client, media: Queue, pids: Record<string, number>, idleRss: number): Promise<HubStep> {
  const pid = pids.worker;
  const savedBefore = await savedTotal(db);
  const connectStart = Date.now();
  const streams: StreamSummary[] = await simControl.startMeetings(n, P, MEETING_S);
  const fail = async (why: string): Promise<HubStep> => {
    await simControl.stopAll(streams).catch(() => undefined);
    await drain(db, media).catch(() => undefined);
    return { meetings: n, storage, pass: false, why };
  };
  try {
    await waitFor('every stream connected to the hub', async () => (await simControl.records(streams)).every((r) => r.state === 'active' && r.readyAcks.length > 0), 60_000 + n * 300, 500);
  } catch {
    return fail(`not every stream connected within ${60 + n * 0.3} s`);
  }
  const connectS = (Date.now() - connectStart) / 1000;
  await sleep(WARMUP_S * 1000);
  const snap0 = cpuSnapshot(pids);
  const cpu0 = cpuSeconds(pid);
  const threads0 = threadCpu(pid);
  const t0 = new Date();
  const mono0 = process.hrtime.bigint() / 1000n;
  const rss: number[] = [];
  const rssTimer = setInterval(() => rss.push(rssMb(pid)), 1000);
  await sleep(STEADY_S * 1000);
  const t1 = new Date();
  // CLOCK_MONOTONIC in µs, the clock of a --cpu-prof profile's startTime/timeDeltas: cut it to the window with this.
  log(`hub (${storage}) ${n} × ${P}: steady window, monotonic µs ${mono0}–${process.hrtime.bigint() / 1000n}`);
  clearInterval(rssTimer);
  const wall = (t1.getTime() - t0.getTime()) / 1000;
  const workerCpu = pct(cpuSeconds(pid) - cpu0, wall);
  const workerThreads = threadShares(threads0, threadCpu(pid), wall);
  const shares = cpuShares(snap0, cpuSnapshot(pids), wall);
  const drainStart = Date.now();
  try {
    await settle(streams, () => savedTotal(db));
    await drain(db, media);
  } catch {
    return { meetings: n, storage, pass: false, why: 'the savers did not drain within 180 s' };
  }
  const drainS = (Date.now() - drainStart) / 1000;
  const failedJobs = (await media.getJobCounts('failed')).failed;
  const sent = sum(sentTotals(await simControl.records(streams)));
  const saved = (await savedTotal(db)) - savedBefore;
  const win = [t0.toISOString(), t1.toISOString()];
  const w = (
    await db.query<Record<string, string>>(
      `SELECT
         (SELECT coalesce(sum(cardinality(packet_ts)), 0) FROM audio_parts WHERE created_at >= $1 AND created_at < $2)::bigint AS audio_n,
         (SELECT coalesce(sum(l), 0) FROM audio_parts p, unnest(p.packet_len) AS l WHERE p.created_at >= $1 AND p.created_at < $2)::bigint AS audio_b,
         (SELECT coalesce(sum(CASE WHEN kind IN ('video_segment', 'share_segment') THEN (meta->>'frames')::int ELSE 1 END), 0)
            FROM media_artifacts WHERE kind <> 'audio_segment' AND created_at >= $1 AND created_at < $2)::bigint AS art_n,
         (SELECT coalesce(sum(bytes), 0) FROM media_artifacts WHERE kind <> 'audio_segment' AND created_at >= $1 AND created_at < $2)::bigint AS art_b,
         (SELECT count(*) FROM transcript_segments WHERE created_at >= $1 AND created_at < $2)::bigint AS tr_n`,
      win,
    )
  ).rows[0];
  const msgs = Math.round((Number(w.audio_n) + Number(w.art_n) + Number(w.tr_n)) / wall);
  const bytes = Number(w.audio_b) + Number(w.art_b);
  const latRows = (
    await db.query<{ kind: string; p50: number; p99: number; max: number }>(
      `WITH l AS (
         SELECT 'audio' AS kind, extract(epoch FROM p.created_at) * 1000 - t AS ms FROM audio_parts p, unnest(p.packet_ts) AS t WHERE t >= $3 AND t < $4
         UNION ALL
         SELECT kind, extract(epoch FROM created_at - captured_at) * 1000 FROM media_artifacts WHERE kind IN ('video_frame', 'share_frame', 'chat') AND captured_at >= $1 AND captured_at < $2
         UNION ALL
         -- An H.264 segment is stored once it is cut (≥ H264_SEGMENT_SECONDS): its latency runs from its last frame, and it is reported on its own, not in 'all'.
         SELECT kind, extract(epoch FROM created_at) * 1000 - (meta->>'last_ts')::bigint FROM media_artifacts WHERE kind IN ('video_segment', 'share_segment') AND captured_at >= $1 AND captured_at < $2
         UNION ALL
         SELECT 'transcript', extract(epoch FROM created_at) * 1000 - timestamp_ms FROM transcript_segments WHERE timestamp_ms >= $3 AND timestamp_ms < $4)
       SELECT kind, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max FROM l GROUP BY kind
       UNION ALL
       SELECT 'all', percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), max(ms) FROM l WHERE kind NOT IN ('video_segment', 'share_segment')`,
      [...win, t0.getTime(), t1.getTime()],
    )
  ).rows;
  const all = latRows.find((r) => r.kind === 'all');
  const latency = all ? { p50: Math.round(all.p50), p99: Math.round(all.p99), max: Math.round(all.max) } : { p50: NaN, p99: NaN, max: NaN };
  const lost = sent - saved;
  const rssAvg = rss.length ? rss.reduce((a, b) => a + b, 0) / rss.length : NaN;
  const why = lost !== 0 ? `${lost} lost` : failedJobs ? `${failedJobs} failed media jobs` : !(latency.p99 < P99_MS) ? `p99 ${latency.p99} ms` : undefined;
  return {
    meetings: n,
    storage,
    pass: !why,
    why,
    connect_s: +connectS.toFixed(1),
    messages_per_s: msgs,
    mb_per_s: +(bytes / wall / 1e6).toFixed(2),
    latency_ms: latency,
    latency_p99_by_kind: Object.fromEntries(latRows.filter((r) => r.kind !== 'all').map((r) => [r.kind, Math.round(r.p99)])),
    sent,
    lost,
    failed_jobs: failedJobs,
    drain_s: +drainS.toFixed(1),
    worker_cpu_percent: workerCpu,
    worker_cpu_per_1000_msg_s: +(workerCpu / (msgs / 1000)).toFixed(2),
    worker_cpu_by_thread: workerThreads,
    cpu_during_window: shares,
    worker_rss_mb: Math.round(rssAvg),
    rss_per_stream_mb: +((rssAvg - idleRss) / n).toFixed(2),
    simulator_cpu_percent: Number(shares.simulator),
  };
}

/**
 * Ends a step's meetings without counting what a stop cuts off as lost: the streams are paused
 * first (the simulator sends no more media), and stopped once the receiver has taken what was
 * sent (its count unchanged for 1 s, at most 60 s). A stop of every meeting at once while the
 * receiver is behind drops what is still unread: the hub closes its media socket as soon as
 * signaling says TERMINATED (docs/performance.md, Capacity).
 */
async function settle(streams: StreamSummary[], count: () => Promise<number>): Promise<void> {
  await simControl.pauseAll(streams);
  const deadline = Date.now() + 60_000;
  let last = -1;
  for (;;) {
    await sleep(1000);
    const n = await count();
    if (n === last || Date.now() > deadline) break;
    last = n;
  }
  await simControl.stopAll(streams);
}

/** Everything sent so far is saved or lost. */
const drain = (db: Client, media: Queue): Promise<void> => waitForSaversToDrain(db, media);

// ───────────────────────────── the run ─────────────────────────────

/** The largest load of a ramp below its first failure (null when the first step failed). */
const largestPassing = <T extends { meetings: number; pass: boolean }>(steps: T[]): number | null => {
  let best: number | null = null;
  for (const s of steps) {
    if ((s as { retried?: boolean }).retried) continue;
    if (!s.pass) break;
    best = s.meetings;
  }
  return best;
};

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  log(`profile ${REALISTIC ? 'realistic' : 'default'}: steps ${STEPS.join(', ')} meetings × ${P}, video ${VIDEO_FORMAT} ${VIDEO_FPS} fps scale ${VIDEO_SCALE}, ${WARMUP_S} s warm-up + ${STEADY_S} s per step; load average ${load}`);
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length,
    load_average_before: load,
    profile: REALISTIC ? 'realistic' : 'default',
    participants: P,
    video_scale: VIDEO_SCALE,
    video_format: VIDEO_FORMAT,
    media_dir: MEDIA_DIR,
    video_fps: VIDEO_FPS,
    video_grain: GRAIN,
    steady_s: STEADY_S,
    p99_target_ms: P99_MS,
  };

  // 1. The load generator's own CPU, before (json) and after (prebuilt).
  if (GEN_MEETINGS > 0) {
    const gen: Record<string, BaselineStep> = {};
    for (const encoding of ['json', 'prebuilt'] as const) {
      const sim = await startSimulator(encoding);
      try {
        gen[encoding] = await baselineStep(GEN_MEETINGS, sim.proc.pid!, GEN_S);
        log(`generator (${encoding}) at ${GEN_MEETINGS} × ${P}: simulator ${gen[encoding].simulator_cpu_percent} % of a core for ${gen[encoding].messages_per_s} msg/s (p99 ${gen[encoding].latency_ms.p99} ms, lost ${gen[encoding].lost})`);
      } finally {
        await sim.stop();
      }
    }
    report.load_generator = { meetings: GEN_MEETINGS, window_s: GEN_S, json_before: gen.json, prebuilt_after: gen.prebuilt };
  }

  const sim = await startSimulator('prebuilt');
  const simPid = sim.proc.pid!;
  const prefix = `bench-capacity-${randomUUID().slice(0, 8)}`;
  try {
    // 2. The raw baseline ramp.
    if (BASELINE) {
      const steps: BaselineStep[] = [];
      for (const n of STEPS) {
        if (elapsedS() > MAX_S) break;
        let s = await baselineStep(n, simPid, STEADY_S);
        if (!s.pass && s.lost === 0 && RETRIES > 0) {
          log(`baseline ${n} × ${P}: ${s.why}; once more (the machine is shared)`);
          steps.push({ ...s, retried: true });
          s = await baselineStep(n, simPid, STEADY_S);
        }
        steps.push(s);
        log(`baseline ${n} × ${P}: ${s.pass ? 'PASS' : `FAIL (${s.why})`} ${s.messages_per_s} msg/s, ${s.mb_per_s} MB/s, p50/p99 ${s.latency_ms.p50}/${s.latency_ms.p99} ms, client ${s.client_cpu_percent} %, simulator ${s.simulator_cpu_percent} %`);
        if (!s.pass) break;
      }
      report.baseline = { largest_passing_meetings: largestPassing(steps), steps };
    }
    // 3. The hub ramp, per storage.
    if (HUB) {
      const dbUrl = await freshDatabase(DB_BASE, DB_NAME);
      await runMigrations(dbUrl, () => undefined);
      const hub: Record<string, unknown> = {};
      for (const storage of STORAGES) {
        const r = await hubRamp(dbUrl, prefix, simPid, storage);
        hub[storage] = { largest_passing_meetings: largestPassing(r.steps), idle_rss_mb: r.idle_rss_mb, steps: r.steps };
      }
      report.hub = hub;
    }
    // Hub CPU per 1,000 msg/s against the baseline's, at each load both passed.
    const base = (report.baseline as { steps: BaselineStep[] } | undefined)?.steps ?? [];
    const hubLocal = ((report.hub as Record<string, { steps: HubStep[] }> | undefined)?.[STORAGES[0]]?.steps ?? []).filter((s) => s.pass);
    report.hub_cpu_per_1000_msg_s_vs_baseline = hubLocal
      .map((h) => {
        const b = base.find((x) => x.meetings === h.meetings && x.pass);
        return b ? { meetings: h.meetings, hub_worker: h.worker_cpu_per_1000_msg_s, baseline_client: b.client_cpu_per_1000_msg_s, ratio: +(h.worker_cpu_per_1000_msg_s! / b.client_cpu_per_1000_msg_s).toFixed(2) } : null;
      })
      .filter(Boolean);
  } finally {
    await sim.stop();
    await obliterateQueues(REDIS_URL, prefix, ['zoom-events', 'rtms-streams', 'media-frames']);
  }
  report.total_s = Math.round(elapsedS());
  writeFileSync(join(ROOT, '.bench', `capacity${REALISTIC ? '-realistic' : ''}.json`), JSON.stringify(report, null, 2));
  console.log(JSON.stringify(report, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
