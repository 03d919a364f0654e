import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MediaBatchPayload } from '../src/jobs/job-payloads';
import { QueueName } from '../src/jobs/queue-names';
import { listWorkers } from '../src/modules/media-ingest/workers/stream-workers.registry';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { nodeArgsFor, type EntrypointProcess } from './utils/processes';
import { streamOwnership } from './utils/stream-ownership';
import { API_KEY } from './utils/test-app';
import { TEST_KEYS } from './utils/test-keys';
import { waitFor } from './utils/wait-for';
import Redis from 'ioredis';

jest.setTimeout(150_000);

const MEETINGS = 30;
const MEDIA_TYPES = { 14: 'audio', 15: 'video', 17: 'transcript', 18: 'chat' } as const;

/**
 * Three stream-worker processes, each with its own SPOOL_HOST_ID and AUDIO_SPOOL_DIR,
 * share 30 light meetings (the fair share, not BullMQ's greedy fetch, decides who takes
 * what); then one is drained with `worker:drain` and its streams move to the other two,
 * one at a time, with nothing lost: every message the simulator sent reached the hub's
 * durable pipeline (media-frames batches in Redis, audio parts in Postgres), per type.
 */
describe('Stream workers: balanced over worker hosts, drained for a rolling deploy', () => {
  const ctx = useE2eContext({
    simulator: { keepAliveIntervalMs: 1000, videoScale: 0.1 },
    // API + zoom-events here; media-frames is not consumed, so its batches stay countable.
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents], explicit: true } },
    env: () => ({ CAPTURE_VIDEO_INTERVAL_MS: '0', CAPTURE_DESKSHARE_INTERVAL_MS: '0' }),
  });
  const workers: Array<EntrypointProcess & { ready: boolean; host: string }> = [];
  const spoolDirs: string[] = [];
  let redis: Redis;
  const { owner, ownerPid, liveConnected } = streamOwnership(ctx);
  const qn = () => `${process.env.QUEUE_PREFIX}:${QueueName.RtmsStreams}`;

  beforeAll(async () => {
    redis = new Redis(process.env.REDIS_URL as string);
    for (const host of ['bal-host-a', 'bal-host-b', 'bal-host-c']) {
      const dir = mkdtempSync(join(tmpdir(), `${host}-`));
      spoolDirs.push(dir);
      const w = Object.assign(
        ctx.spawnWorker({
          WORKER_QUEUES: QueueName.RtmsStreams,
          SPOOL_HOST_ID: host,
          AUDIO_SPOOL_DIR: dir,
          CONCURRENCY_RTMS_STREAMS: '20',
          WORKER_DRAIN_INTERVAL_MS: '200',
          RTMS_RECONNECT_BASE_MS: '100',
          RTMS_RECONNECT_MAX_MS: '500',
        }),
        { ready: false, host },
      );
      workers.push(w);
    }
    try {
      await waitFor(() => workers.every((w) => (w.ready ||= w.output().includes('Consuming rtms-streams'))), { timeoutMs: 90_000, intervalMs: 250, what: 'three stream workers ready' });
      await waitFor(async () => (await listWorkers(redis, qn())).length === 3, { what: 'three workers registered' });
    } catch (err) {
      throw new Error(`${String(err)}\n${workers.map((w) => w.output().slice(-2000)).join('\n----\n')}`);
    }
  });

  afterAll(async () => {
    redis.disconnect();
    for (const d of spoolDirs) rmSync(d, { recursive: true, force: true });
  });

  /** Streams per worker pid among the active rows. */
  async function spread(ids: string[]): Promise<Map<number, number>> {
    const rows = await query<{ owner_worker_id: string }>(ctx.hub.app, `SELECT owner_worker_id FROM rtms_streams WHERE rtms_stream_id = ANY($1) AND status = 'active'`, [ids]);
    const out = new Map<number, number>(workers.map((w) => [w.pid, 0]));
    for (const r of rows) out.set(ownerPid(r.owner_worker_id)!, (out.get(ownerPid(r.owner_worker_id)!) ?? 0) + 1);
    return out;
  }

  /** What the hub made durable for a stream, per media type: batch items (by message type) and distinct audio packets. */
  async function storedByStream(ids: string[]): Promise<Map<string, Record<number, number>>> {
    const out = new Map<string, Record<number, number>>(ids.map((id) => [id, {}]));
    const jobs = await ctx.hub.producer.queue(QueueName.MediaFrames).getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']);
    for (const j of jobs) {
      for (const s of (j.data as MediaBatchPayload).streams ?? []) {
        const by = out.get(s.rtmsStreamId);
        if (by) for (const i of s.items) by[i.msgType] = (by[i.msgType] ?? 0) + 1;
      }
    }
    const audio = await query<{ rtms_stream_id: string; n: number }>(
      ctx.hub.app,
      `SELECT s.rtms_stream_id, count(DISTINCT (s.user_id, t.ts))::int AS n
         FROM audio_segments s JOIN audio_parts p ON p.segment_id = s.id, unnest(p.packet_ts) AS t(ts)
        WHERE s.rtms_stream_id = ANY($1) GROUP BY s.rtms_stream_id`,
      [ids],
    );
    for (const a of audio) out.get(a.rtms_stream_id)![14] = a.n;
    return out;
  }

  function runDrain(target: string, flags = ['--wait']): Promise<{ code: number | null; out: string }> {
    const child = spawn(process.execPath, [...nodeArgsFor('src/modules/media-ingest/workers/worker-drain.ts'), target, ...flags], {
      env: { ...process.env, ...ctx.env, TS_NODE_TRANSPILE_ONLY: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
  }

  it('30 meetings spread within ±20 % of even; draining one worker moves its streams to the others with 0 lost', async () => {
    // Light meetings: one speaker with camera, transcript and chat; one silent listener.
    const lines = Array.from({ length: 40 }, (_, i) => i);
    const meetings = Array.from({ length: MEETINGS }, () =>
      ctx.sim.createMeeting({
        participants: [
          { userId: 1, name: 'Ann', speaks: lines.map((i) => ({ atMs: 2000 + i * 3000, text: `line ${i}`, durationMs: 500 })), chat: lines.map((i) => ({ atMs: 3000 + i * 4000, text: `msg ${i}` })) },
          { userId: 2, name: 'Bob', camera: false, muted: true },
        ],
      }),
    );
    // All 30 jobs wait while the queue is paused, then arrive at once: the burst BullMQ's
    // greedy fetch would hand to whichever worker wakes first (up to its cap of 20).
    const streamsQueue = ctx.hub.producer.queue(QueueName.RtmsStreams);
    await streamsQueue.pause();
    const ids = (await Promise.all(meetings.map((m) => ctx.sim.startRtms(m.id)))).map((s) => s.streamId);
    await waitFor(async () => (await streamsQueue.getWaitingCount()) === MEETINGS, { timeoutMs: 30_000, what: '30 stream jobs waiting' });
    await streamsQueue.resume();
    await waitFor(async () => (await Promise.all(ids.map(async (id) => (await owner(id))?.status === 'active' && liveConnected(id)))).every(Boolean), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'all 30 streams connected',
    });

    // ── balance: each of the three holds 10 ± 2 ──
    const before = await spread(ids);
    console.log(`spread over 3 workers: ${[...before.values()].join(' / ')}`);
    for (const n of before.values()) {
      expect(n).toBeGreaterThanOrEqual(8);
      expect(n).toBeLessThanOrEqual(12);
    }

    // ── the admin API lists them; unknown targets and owner-scoped keys are refused ──
    // Each worker reports its stream count with its heartbeat (every second): the listing catches up within one.
    let listed: Array<{ spool_host: string; streams: number }> = [];
    await waitFor(
      async () => {
        listed = (await ctx.http().get('/api/v1/stream-workers').set('x-api-key', API_KEY).expect(200)).body.data;
        return listed.reduce((a, w) => a + w.streams, 0) === MEETINGS;
      },
      { timeoutMs: 10_000, what: 'the stream-worker listing to count all 30 streams' },
    );
    expect(listed.map((w) => w.spool_host).sort()).toEqual(['bal-host-a', 'bal-host-b', 'bal-host-c']);
    const unknown = await ctx.http().post('/api/v1/stream-workers/no-such-host/drain').set('x-api-key', API_KEY).expect(404);
    expect(unknown.body.error).toBe('stream_worker_not_found');
    await ctx.http().get('/api/v1/stream-workers').set('x-api-key', TEST_KEYS.tenantB).expect(403);

    // ── drain the busiest (npm run worker:drain -- <host> --wait) ──
    const victimPid = [...before.entries()].sort((a, b) => b[1] - a[1])[0][0];
    const victim = workers.find((w) => w.pid === victimPid)!;
    const drained = await runDrain(victim.host);
    expect({ code: drained.code, out: drained.out }).toMatchObject({ code: 0 });
    expect(drained.out).toContain('Drained');

    await waitFor(async () => (await Promise.all(ids.map(async (id) => (await owner(id))?.status === 'active' && liveConnected(id)))).every(Boolean), {
      timeoutMs: 30_000,
      intervalMs: 500,
      what: 'every stream live again',
    });
    const after = await spread(ids);
    console.log(`after draining one: ${[...after.values()].join(' / ')}`);
    expect(after.get(victimPid)).toBe(0);
    expect([...after.values()].reduce((a, b) => a + b, 0)).toBe(MEETINGS);
    const reg = (await listWorkers(redis, qn())).find((w) => w.pid === victimPid);
    expect(reg).toMatchObject({ draining: true, running: 0 });
    const afterList = await ctx.http().get('/api/v1/stream-workers').set('x-api-key', API_KEY).expect(200);
    expect((afterList.body.data as Array<{ spool_host: string }>).find((w) => w.spool_host === victim.host)).toMatchObject({ streams: 0, draining: true });
    // The worker says so itself once nothing it admitted is left; its log can trail the registry by a moment.
    await waitFor(() => victim.output().includes('Drained: this worker holds no stream'), { timeoutMs: 10_000, intervalMs: 100, what: "the drained worker's own 'Drained' line" });
    // The hand-overs were clean: one connection at a time, the SIGTERM path (stream.handed_over).
    for (const id of ids) {
      expect(ctx.sim.record(id).maxLiveSignaling).toBe(1);
      expect(ctx.sim.record(id).maxLiveMedia).toBe(1);
    }
    const handedOver = await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM session_events WHERE rtms_stream_id = ANY($1) AND event_type = 'stream.handed_over'`, [ids]);
    expect(handedOver[0].n).toBe(before.get(victimPid));

    // ── drain every worker of a host at once (here all three run on this machine) ──
    // Nobody can take a stream then: none is handed over (before, each of the two that held
    // streams handed one to the other, which was pausing too: both jobs sat in `wait` with
    // nobody fetching), and every stream stays live where it is until the drain is cancelled.
    expect((await runDrain(hostname(), [])).code).toBe(0);
    await waitFor(async () => (await listWorkers(redis, qn())).every((w) => w.draining), { timeoutMs: 5_000, what: 'every worker draining' });
    const watchUntil = Date.now() + 4_000;
    while (Date.now() < watchUntil) {
      const queued = (await streamsQueue.getWaitingCount()) + (await streamsQueue.getDelayedCount());
      expect({ queued }).toEqual({ queued: 0 });
      await new Promise((r) => setTimeout(r, 250));
    }
    const still = await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM session_events WHERE rtms_stream_id = ANY($1) AND event_type = 'stream.handed_over'`, [ids]);
    expect(still[0].n).toBe(before.get(victimPid));
    expect((await Promise.all(ids.map(async (id) => (await owner(id))?.status === 'active' && liveConnected(id)))).every(Boolean)).toBe(true);
    const drainingAll = await listWorkers(redis, qn());
    expect(drainingAll.reduce((a, w) => a + w.running + w.handingOver, 0)).toBe(MEETINGS);
    expect((await runDrain(hostname(), ['--cancel'])).code).toBe(0);
    await waitFor(async () => (await listWorkers(redis, qn())).every((w) => !w.draining), { timeoutMs: 5_000, what: 'drain cancelled' });

    // Let media flow on the new holders, then end every meeting.
    const media = (id: string) => ctx.sim.record(id).messagesSent.byType[17] ?? 0;
    const marks = new Map(ids.map((id) => [id, media(id)]));
    await waitFor(() => ids.every((id) => media(id) > marks.get(id)!), { timeoutMs: 20_000, what: 'transcript after the drain' });
    for (const id of ids) await ctx.sim.stopRtms(id, 6);
    await waitFor(async () => (await query(ctx.hub.app, `SELECT 1 FROM rtms_streams WHERE rtms_stream_id = ANY($1) AND status <> 'stopped'`, [ids])).length === 0, { timeoutMs: 30_000, what: 'all stopped' });

    // ── 0 lost: sent vs stored per media type ──
    const sent = (id: string) => ctx.sim.record(id).messagesSent.byType;
    const totals = async () => {
      const stored = await storedByStream(ids);
      const t: Record<string, { sent: number; stored: number }> = {};
      for (const [type, kind] of Object.entries(MEDIA_TYPES)) {
        t[kind] = { sent: ids.reduce((a, id) => a + (sent(id)[Number(type)] ?? 0), 0), stored: ids.reduce((a, id) => a + (stored.get(id)![Number(type)] ?? 0), 0) };
      }
      return t;
    };
    const final = await waitFor(async () => {
      const t = await totals();
      return Object.values(t).every((c) => c.stored >= c.sent) ? t : undefined;
    }, { timeoutMs: 20_000, intervalMs: 1000, what: 'everything sent is stored' }).catch(async () => totals());
    console.log(`sent vs stored: ${JSON.stringify(final)}`);
    for (const [kind, c] of Object.entries(final)) {
      expect({ kind, ...c }).toEqual({ kind, sent: c.sent, stored: c.sent });
      expect(c.sent).toBeGreaterThan(0);
    }
  });
});
