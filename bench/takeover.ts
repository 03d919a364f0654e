/**
 * npm run bench:takeover — stream takeover between stream-worker processes.
 *
 * Three real stream workers (dist/src/main.worker.js, WORKER_QUEUES=rtms-streams) and an API
 * process (dist/src/main.js, WORKER_QUEUES=zoom-events,media-frames) run K meetings of 2–3
 * participants against the Zoom simulator. The simulator runs IN this process, so its
 * records and the kill times share one clock, and every media message it sends can be
 * timestamped (the same tap on RtmsMediaPump.prototype.media as test/media-capture.e2e-spec.ts).
 *
 * Then, N rounds each of:
 *  - SIGKILL: the worker holding the most streams is killed at a random moment of its lease
 *    renewal cycle (a random delay of 0–lockDuration after the streams settle); its leases
 *    (BullMQ job locks) expire and another worker reconnects each stream;
 *  - SIGTERM: the worker holding the most streams is asked to stop; it hands its streams over.
 * A worker is respawned after each round so three are running.
 *
 * Per stream taken over, measured on the simulator's side:
 *  - takeover: signal sent → the new connection's successful media handshake (msg 4 status 0,
 *    `record.handshakes[].at`);
 *  - media gap: the last media message (msg 14–18) the simulator sent on the old media socket
 *    → the first one it sent on the new media socket (tap timestamps, only messages handed
 *    to an OPEN socket count).
 * Checked: never more than one live signaling and one live media socket per stream
 * (`maxLiveSignaling`/`maxLiveMedia` = 1), every stream still streaming at the end, every
 * SIGTERMed worker exits 0.
 *
 * Reported: p50/p99/max of takeover and media gap per scenario. Target (exit 1 if missed):
 * SIGKILL media gap and takeover p99 < BENCH_TARGET_SIGKILL_P99_MS (3000), SIGTERM takeover
 * p99 < BENCH_TARGET_SIGTERM_P99_MS (3000).
 *
 * Redis: unless BENCH_REDIS_URL is given, the bench starts its own redis-server (loopback,
 * BENCH_REDIS_PORT 6391, no persistence) with `notify-keyspace-events Ex` so standbys learn
 * of an expired lease at once; BENCH_KEYSPACE_EVENTS=0 starts it without, to measure the
 * polling fallback. With its own Redis the bench also counts the commands Redis runs per
 * second while nothing fails (INFO commandstats over BENCH_IDLE_MS, 10000), the load a
 * shorter lease costs.
 *
 * Env: BENCH_MEETINGS (5), BENCH_ROUNDS (10 per scenario), BENCH_SETTLE_MS (2000: streaming steadily
 * before each signal), BENCH_AUDIO_SEND_RATE_MS (the hub's default, 100),
 * BENCH_TIMEOUT_S (900: the whole run, then everything is killed), BENCH_DATABASE_URL,
 * BENCH_SIM_PORT (3931), BENCH_API_PORT (3932), BENCH_WORKER_PORT (3940: first of the workers' ports).
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client } from 'pg';
import { runMigrations } from '../src/database/migrate';
import { STREAM_LOCK_DURATION_MS } from '../src/modules/media-ingest/stream/stream-lease';
import { ZoomSimulator, type MeetingScript } from '../src/simulator';
import { RtmsMediaPump } from '../src/simulator/rtms-media-pump';
import { distEntry, freshDatabase, hubEnv, httpOk, obliterateQueues, ownerPid, percentile, ROOT, sleep, startNode, startPrivateRedis, waitFor, type Child } from './bench-utils';

const K = Number(process.env.BENCH_MEETINGS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const WORKERS = 3;
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 2000);
const TARGET_KILL_MS = Number(process.env.BENCH_TARGET_SIGKILL_P99_MS ?? 3000);
const TARGET_TERM_MS = Number(process.env.BENCH_TARGET_SIGTERM_P99_MS ?? 3000);
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 900);
const DB_BASE = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const OWN_REDIS_PORT = Number(process.env.BENCH_REDIS_PORT ?? 6391);
const OWN_REDIS = !process.env.BENCH_REDIS_URL;
const KEYSPACE_EVENTS = process.env.BENCH_KEYSPACE_EVENTS !== '0';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? `redis://127.0.0.1:${OWN_REDIS_PORT}/0`;
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 10000);
/** RTMS_AUDIO_SEND_RATE_MS of the workers (unset: the hub's default, 100 ms packets). */
const AUDIO_MS = process.env.BENCH_AUDIO_SEND_RATE_MS;
const SIM_PORT = Number(process.env.BENCH_SIM_PORT ?? 3931);
const API_PORT = Number(process.env.BENCH_API_PORT ?? 3932);
const WORKER_PORT = Number(process.env.BENCH_WORKER_PORT ?? 3940);
/** Zoom's signaling reconnect window (the simulator's default): a stream not reconnected within it is gone. */
const SIGNALING_WINDOW_MS = 60_000;
const CREDS = { clientId: 'bench_client_id', clientSecret: 'bench_client_secret', webhook: 'bench_webhook_secret' };
const OUT = join(ROOT, '.bench', 'takeover');
const QUEUES = ['zoom-events', 'rtms-streams', 'media-frames'];

const log = (m: string) => console.log(`[bench:takeover] ${m}`);

// ───────────── the media tap: when the simulator sent media, on which socket ─────────────

interface Transition {
  fromConn: number;
  toConn: number;
  lastOldAt: number;
  firstNewAt: number;
}
const lastMedia = new Map<string, { conn: number; at: number }>();
const transitions = new Map<string, Transition[]>();
type MediaFn = (s: { streamId: string }, c: { id: number; ws: { readyState: number } }, kind: string, content: Record<string, unknown>, userId: number) => void;
const pump = RtmsMediaPump.prototype as unknown as { media: MediaFn };
const originalMedia = pump.media;
pump.media = function (this: unknown, s, c, kind, content, userId) {
  if (c.ws.readyState === 1) {
    const at = Date.now();
    const prev = lastMedia.get(s.streamId);
    if (prev && prev.conn !== c.id) {
      const list = transitions.get(s.streamId) ?? [];
      list.push({ fromConn: prev.conn, toConn: c.id, lastOldAt: prev.at, firstNewAt: at });
      transitions.set(s.streamId, list);
    }
    lastMedia.set(s.streamId, { conn: c.id, at });
  }
  originalMedia.call(this, s, c, kind, content, userId);
};

// ───────────────────────────── processes ─────────────────────────────

const started: Child[] = [];
let redisServer: ChildProcess | null = null;
let workerSeq = 0;

async function spawnWorker(common: Record<string, string>): Promise<Child> {
  const port = WORKER_PORT + workerSeq++;
  const w = await startNode(distEntry('main.worker.js'), { ...common, PORT: String(port), WORKER_QUEUES: 'rtms-streams' }, httpOk(`http://127.0.0.1:${port}/health/live`), 60000);
  started.push(w);
  return w;
}

async function stopAll(): Promise<void> {
  const kill = setTimeout(() => started.forEach((c) => c.proc.kill('SIGKILL')), 20000);
  await Promise.all(started.map((c) => c.stop('SIGTERM')));
  clearTimeout(kill);
}

function meetingScript(k: number): MeetingScript {
  const n = 2 + (k % 2); // 2 or 3 participants
  const participants = Array.from({ length: n }, (_, i) => ({
    userId: 17_000_000 + k * 100 + i,
    name: `Takeover ${k}.${i}`,
    speaks: [] as Array<{ atMs: number; text: string; durationMs: number }>,
  }));
  for (let t = 1000, turn = 0; t < 3_600_000; t += 3000, turn++) participants[turn % n].speaks.push({ atMs: t, text: `line ${turn} of meeting ${k}`, durationMs: 2500 });
  return { topic: `takeover ${k}`, participants };
}

// ───────────────────────────── measurement ─────────────────────────────

interface StreamRow {
  rtms_stream_id: string;
  owner_worker_id: string | null;
  status: string;
}

interface Sample {
  round: number;
  streamId: string;
  takeoverMs: number;
  mediaGapMs: number;
  killToFirstMediaMs: number;
}
interface Round {
  round: number;
  signal: NodeJS.Signals;
  victimPid: number;
  streams: number;
  exitCode: number | null;
  exitMs: number;
  lost: string[];
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, min: s[0] ?? NaN, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
};

/** Commands Redis ran per second over `ms` (INFO commandstats), total and by command. */
async function redisLoad(ms: number): Promise<{ window_ms: number; commands_per_s: number; by_command_per_s: Record<string, number> }> {
  const c = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const read = async () => {
    const out: Record<string, number> = {};
    for (const line of (await c.info('commandstats')).split('\n')) {
      const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
      if (m) out[m[1]] = Number(m[2]);
    }
    return out;
  };
  try {
    const a = await read();
    await sleep(ms);
    const b = await read();
    const by: Record<string, number> = {};
    let total = 0;
    for (const [k, v] of Object.entries(b)) {
      // The INFO calls themselves are the bench's, not the hub's.
      if (k === 'info') continue;
      const d = v - (a[k] ?? 0);
      total += d;
      if (d > 0) by[k] = +((d * 1000) / ms).toFixed(2);
    }
    return { window_ms: ms, commands_per_s: +((total * 1000) / ms).toFixed(1), by_command_per_s: by };
  } finally {
    c.disconnect();
  }
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const guard = setTimeout(() => {
    console.error(`[bench:takeover] did not finish within ${TIMEOUT_S} s: killing everything`);
    started.forEach((c) => c.proc.kill('SIGKILL'));
    redisServer?.kill('SIGKILL');
    process.exit(1);
  }, TIMEOUT_S * 1000);
  guard.unref();
  process.once('SIGINT', () => {
    started.forEach((c) => c.proc.kill('SIGKILL'));
    redisServer?.kill('SIGKILL');
    process.exit(130);
  });

  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  redisServer = OWN_REDIS ? await startPrivateRedis(OWN_REDIS_PORT, { keyspaceEvents: KEYSPACE_EVENTS }) : null;
  const prefix = `bench-takeover-${randomUUID().slice(0, 8)}`;
  const dbUrl = await freshDatabase(DB_BASE, 'rtms_hub_bench_takeover');
  await runMigrations(dbUrl, () => undefined);
  const sim = await ZoomSimulator.start({ host: '127.0.0.1', port: SIM_PORT, clientId: CREDS.clientId, clientSecret: CREDS.clientSecret, webhookSecretToken: CREDS.webhook, videoScale: 0.1 });
  const db = new Client({ connectionString: dbUrl });
  await db.connect();
  const common = {
    ...hubEnv({ dbUrl, redisUrl: REDIS_URL, prefix, simBaseUrl: sim.httpBaseUrl, clientId: CREDS.clientId, clientSecret: CREDS.clientSecret, webhookSecret: CREDS.webhook }),
    STORAGE_LOCAL_DIR: join(OUT, 'recordings'),
    AUDIO_SPOOL_DIR: join(OUT, 'spool'),
    ...(AUDIO_MS ? { RTMS_AUDIO_SEND_RATE_MS: AUDIO_MS } : {}),
  };
  log(
    `${K} meetings, ${ROUNDS} rounds of SIGKILL then ${ROUNDS} of SIGTERM, ${WORKERS} stream workers; ` +
      `Redis: ${OWN_REDIS ? `own redis-server, keyspace events ${KEYSPACE_EVENTS ? 'on' : 'off'}` : REDIS_URL}; load average before: ${load}`,
  );

  try {
    // The API takes the simulator's webhooks (zoom-events) and saves frames/transcripts (media-frames).
    started.push(await startNode(distEntry('main.js'), { ...common, PORT: String(API_PORT), WORKER_QUEUES: 'zoom-events,media-frames' }, httpOk(`http://127.0.0.1:${API_PORT}/health/live`), 60000));
    const workers: Child[] = [];
    for (let i = 0; i < WORKERS; i++) workers.push(await spawnWorker(common));
    sim.setWebhookTarget(`http://127.0.0.1:${API_PORT}/api/v1/webhooks/zoom`);

    const ids = (await Promise.all(Array.from({ length: K }, (_, k) => sim.startRtms(sim.createMeeting(meetingScript(k)).id)))).map((s) => s.streamId);
    const rows = async () => (await db.query<StreamRow>(`SELECT rtms_stream_id, owner_worker_id, status FROM rtms_streams WHERE rtms_stream_id = ANY($1)`, [ids])).rows;
    const oneLive = (id: string) => {
      const r = sim.record(id);
      return r.state === 'active' && r.live.signaling === 1 && Object.values(r.live.media).reduce((a, b) => a + b, 0) === 1;
    };
    const flowing = (id: string) => Date.now() - (lastMedia.get(id)?.at ?? 0) < 1000;
    const alive = new Set(ids);

    /** Every surviving stream active in the simulator and the database, owned by a running worker, media flowing. */
    const steady = async () => {
      const pids = new Set(workers.map((w) => w.proc.pid));
      const byId = new Map((await rows()).map((r) => [r.rtms_stream_id, r]));
      return [...alive].every((id) => oneLive(id) && flowing(id) && byId.get(id)?.status === 'active' && pids.has(ownerPid(byId.get(id)!.owner_worker_id) ?? -1));
    };
    await waitFor('every stream connected by a worker', steady, 60000, 100);
    log(`${K} streams connected`);
    // The load while nothing fails (lock renewals, stalled checks, keep-alive writes…): only meaningful on a Redis of our own.
    const idleLoad = OWN_REDIS ? await redisLoad(IDLE_MS) : null;
    if (idleLoad) log(`Redis while nothing fails: ${idleLoad.commands_per_s} commands/s ${JSON.stringify(idleLoad.by_command_per_s)}`);

    const samples: Record<'SIGKILL' | 'SIGTERM', Sample[]> = { SIGKILL: [], SIGTERM: [] };
    // The simulator shares this event loop: its lag bounds the resolution of the timestamps.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const rounds: Round[] = [];
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
      for (let round = 1; round <= ROUNDS; round++) {
        await waitFor(`steady streaming before ${signal} round ${round}`, steady, 60000, 100);
        await sleep(SETTLE_MS);
        // A random moment of the lease cycle: how long the dead holder's locks still live varies with it.
        const jitterMs = signal === 'SIGKILL' ? Math.floor(Math.random() * STREAM_LOCK_DURATION_MS) : 0;
        await sleep(jitterMs);
        // The victim: the worker holding the most streams.
        const held = new Map<number, string[]>();
        for (const r of await rows()) if (r.status === 'active') held.set(ownerPid(r.owner_worker_id)!, [...(held.get(ownerPid(r.owner_worker_id)!) ?? []), r.rtms_stream_id]);
        const [victimPid, victimStreams] = [...held.entries()].sort((a, b) => b[1].length - a[1].length)[0];
        const victim = workers.find((w) => w.proc.pid === victimPid)!;
        const handshakesBefore = new Map(victimStreams.map((id) => [id, sim.record(id).handshakes.length]));
        const transitionsBefore = new Map(victimStreams.map((id) => [id, transitions.get(id)?.length ?? 0]));

        const signalAt = Date.now();
        victim.proc.kill(signal);
        const exitedAt = victim.exited.then((e) => ({ ...e, at: Date.now() }));
        const pending = new Set(victimStreams);
        const lost: string[] = [];
        // Each stream: a successful media handshake after the signal, one live connection
        // pair, media flowing on it, and the row owned by another worker.
        await waitFor(
          `${signal} round ${round}: ${victimStreams.length} streams taken over`,
          async () => {
            const byId = new Map((await rows()).map((r) => [r.rtms_stream_id, r]));
            for (const id of pending) {
              const hs = sim.record(id).handshakes.slice(handshakesBefore.get(id)).find((h) => h.socket === 'media' && h.statusCode === 0);
              const tr = (transitions.get(id) ?? []).slice(transitionsBefore.get(id)).find((t) => t.firstNewAt >= signalAt);
              const row = byId.get(id);
              if (!hs || !tr || !oneLive(id) || row?.status !== 'active' || ownerPid(row.owner_worker_id) === victimPid) {
                if (sim.record(id).state === 'terminated') {
                  lost.push(id);
                  pending.delete(id);
                }
                continue;
              }
              samples[signal].push({ round, streamId: id, takeoverMs: hs.at - signalAt, mediaGapMs: tr.firstNewAt - tr.lastOldAt, killToFirstMediaMs: tr.firstNewAt - signalAt });
              pending.delete(id);
            }
            return pending.size === 0;
          },
          SIGNALING_WINDOW_MS + 15000,
          20,
        ).catch((err: unknown) => {
          lost.push(...pending);
          log(String(err));
        });
        for (const id of lost) alive.delete(id);
        const exit = await exitedAt;
        workers.splice(workers.indexOf(victim), 1);
        const mine = samples[signal].filter((s) => s.round === round);
        rounds.push({ round, signal, victimPid, streams: victimStreams.length, exitCode: exit.code, exitMs: exit.at - signalAt, lost });
        log(
          `${signal} round ${round}: pid ${victimPid} held ${victimStreams.length} streams; takeover ${mine.map((s) => s.takeoverMs).join(', ')} ms; ` +
            `media gap ${mine.map((s) => s.mediaGapMs).join(', ')} ms; exit ${exit.code ?? exit.signal} after ${exit.at - signalAt} ms${lost.length ? `; LOST ${lost.length}` : ''}`,
        );
        workers.push(await spawnWorker(common));
      }
    }

    loopDelay.disable();
    // End: every stream still streaming, never two live connections.
    await waitFor('steady streaming at the end', steady, 30000, 100).catch(() => undefined);
    const final = ids.map((id) => {
      const r = sim.record(id);
      return {
        streamId: id,
        state: r.state,
        streaming: oneLive(id) && flowing(id),
        maxLiveSignaling: r.maxLiveSignaling,
        maxLiveMedia: r.maxLiveMedia,
        mediaHandshakes: r.handshakes.filter((h) => h.socket === 'media' && h.statusCode === 0).length,
        sentByType: r.messagesSent.byType,
      };
    });
    const counts = (await db.query<{ reconnect_counts: Record<string, number> }>(`SELECT reconnect_counts FROM rtms_streams WHERE rtms_stream_id = ANY($1)`, [ids])).rows;
    const takeoversCounted = counts.reduce((a, r) => a + (r.reconnect_counts?.takeover ?? 0), 0);

    // Stop the meetings' streams and let the workers end their jobs.
    await Promise.all(ids.map((id) => sim.stopRtms(id).catch(() => undefined)));
    await waitFor('every stream row stopped', async () => (await rows()).every((r) => r.status === 'stopped'), 30000).catch(() => log('some stream rows were not stopped within 30 s'));

    const summary = (signal: 'SIGKILL' | 'SIGTERM') => ({
      rounds: rounds.filter((r) => r.signal === signal).length,
      streams_taken_over: samples[signal].length,
      takeover_ms: stats(samples[signal].map((s) => s.takeoverMs)),
      media_gap_ms: stats(samples[signal].map((s) => s.mediaGapMs)),
      signal_to_first_media_ms: stats(samples[signal].map((s) => s.killToFirstMediaMs)),
      victim_exit_ms: stats(rounds.filter((r) => r.signal === signal).map((r) => r.exitMs)),
    });
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length,
      load_average_before: load,
      load_average_after: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
      meetings: K,
      participants: `2–3 (${ids.map((_, k) => 2 + (k % 2)).join(', ')})`,
      workers: WORKERS,
      rounds_per_scenario: ROUNDS,
      redis: OWN_REDIS ? { own: true, keyspace_events: KEYSPACE_EVENTS } : { own: false, url: REDIS_URL },
      redis_load_nothing_failing: idleLoad,
      // What the workers asked for (the last media handshake of the first stream): the packet cadence bounds the media gap's resolution.
      media_params: (sim.record(ids[0]).handshakes.filter((h) => h.socket === 'media').at(-1)?.request as { media_params?: unknown } | undefined)?.media_params,
      sigkill: summary('SIGKILL'),
      sigterm: summary('SIGTERM'),
      rounds,
      bench_event_loop_delay_ms: { p50: +(loopDelay.percentile(50) / 1e6).toFixed(1), p99: +(loopDelay.percentile(99) / 1e6).toFixed(1), max: +(loopDelay.max / 1e6).toFixed(1) },
      checks: {
        max_live_signaling: Math.max(...final.map((f) => f.maxLiveSignaling)),
        max_live_media: Math.max(...final.map((f) => f.maxLiveMedia)),
        streams_streaming_at_end: final.filter((f) => f.streaming).length,
        streams_lost: rounds.reduce((a, r) => a + r.lost.length, 0),
        sigterm_exit_codes: rounds.filter((r) => r.signal === 'SIGTERM').map((r) => r.exitCode),
        takeovers_counted_on_rows: takeoversCounted,
      },
      streams: final,
      samples,
    };
    writeFileSync(join(ROOT, '.bench', 'takeover.json'), JSON.stringify(report, null, 2));
    console.log(JSON.stringify({ ...report, samples: undefined, streams: undefined }, null, 2));
    const c = report.checks;
    const correct = c.max_live_signaling === 1 && c.max_live_media === 1 && c.streams_streaming_at_end === K && c.streams_lost === 0 && c.sigterm_exit_codes.every((x) => x === 0);
    const fast =
      report.sigkill.takeover_ms.p99 < TARGET_KILL_MS && report.sigkill.media_gap_ms.p99 < TARGET_KILL_MS && report.sigterm.takeover_ms.p99 < TARGET_TERM_MS;
    console.log(
      correct
        ? `bench:takeover: one connection per stream throughout, ${K}/${K} streams streaming at the end, SIGTERM exits 0`
        : 'bench:takeover FAILED: a stream was lost, doubled or left stopped, or a SIGTERMed worker did not exit 0 (see the report)',
    );
    const fmt = (x: { p50: number; p99: number; max: number }) => `p50 ${x.p50} / p99 ${x.p99} / max ${x.max} ms`;
    for (const sig of ['sigkill', 'sigterm'] as const) {
      console.log(`bench:takeover: ${sig.toUpperCase()} takeover ${fmt(report[sig].takeover_ms)}; media gap ${fmt(report[sig].media_gap_ms)} (n=${report[sig].takeover_ms.n})`);
    }
    console.log(
      `bench:takeover: targets (SIGKILL takeover and media gap p99 < ${TARGET_KILL_MS} ms, SIGTERM takeover p99 < ${TARGET_TERM_MS} ms) ${fast ? 'met' : 'MISSED'}`,
    );
    process.exitCode = correct && fast ? 0 : 1;
  } finally {
    sim.setWebhookTarget(null);
    await stopAll();
    await db.end();
    await sim.stop();
    pump.media = originalMedia;
    await obliterateQueues(REDIS_URL, prefix, QUEUES);
    redisServer?.kill('SIGKILL');
    rmSync(OUT, { recursive: true, force: true });
    clearTimeout(guard);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  started.forEach((c) => c.proc.kill('SIGKILL'));
  redisServer?.kill('SIGKILL');
  process.exit(1);
});
