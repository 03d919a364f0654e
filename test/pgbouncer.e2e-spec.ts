import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { webhookSignature } from '../src/simulator';
import type { MediaKind } from '../src/simulator/protocol';
import type { ParticipantScript } from '../src/simulator/types';
import { createSession } from './factories/session.factory';
import { query } from './utils/db';
import { TEST_ZOOM_APP, useE2eContext, WEBHOOK_PATH } from './utils/e2e-context';
import { type PgBouncer, startPgBouncer } from './utils/pgbouncer';
import { playMeeting, waitingParticipants } from './utils/sim-script';
import { API_KEY } from './utils/test-app';
import { waitFor } from './utils/wait-for';

jest.setTimeout(180_000);

/**
 * Postgres through PgBouncer in transaction pooling mode (docs/operations.md#postgres-behind-pgbouncer),
 * every CI run: the hub's DATABASE_URL points at a private PgBouncer with 3 server
 * connections for the hub's pool of 10, so every session-level assumption (a SET, a
 * session advisory lock, a named prepared statement, a transaction that needs a second
 * connection while it holds the first) would show here as an error or a stall. A simulated
 * meeting runs end to end, rtms_started webhooks race on one meeting (the
 * pg_advisory_xact_lock paths), and an erasure runs; nothing fails.
 */
const POOL_SIZE = 3;
const SPEED = 4;
const ANN = 401;
const BOB = 402;
const SPEECH = [
  { user: ANN, atMs: 3000, text: 'pooled one' },
  { user: BOB, atMs: 6000, text: 'pooled two' },
  { user: ANN, atMs: 9000, text: 'pooled three' },
];
const CHAT = [
  { user: BOB, atMs: 4000, text: 'pooled chat one' },
  { user: ANN, atMs: 7000, text: 'pooled chat two' },
];

describe(`Postgres through PgBouncer (transaction pooling, ${POOL_SIZE} server connections)`, () => {
  const root = path.join(os.tmpdir(), `pgbouncer-e2e-${process.pid}-${Date.now()}`);
  let bouncer: PgBouncer | undefined;

  const ctx = useE2eContext({
    simulator: { speed: SPEED, videoScale: 0.25 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams, QueueName.MediaFrames, QueueName.Maintenance], explicit: true } },
    env: async () => {
      // In front of Postgres itself (MIGRATION_DATABASE_URL is the direct URL in tests), even when the whole suite already runs through a PgBouncer.
      bouncer = await startPgBouncer({ target: process.env.MIGRATION_DATABASE_URL as string, poolSize: POOL_SIZE });
      return {
        DATABASE_URL: bouncer.url,
        DATABASE_POOL_SIZE: '10',
        STORAGE_LOCAL_DIR: path.join(root, 'recordings'),
        AUDIO_SPOOL_DIR: path.join(root, 'spool'),
        MEDIA_BATCH_FLUSH_MS: '50',
        AUDIO_SEGMENT_IDLE_FINALIZE_MS: '800',
      };
    },
  });

  // Declared after useE2eContext: Jest runs afterAll hooks in order, so the hub is closed first.
  afterAll(async () => {
    await bouncer?.stop();
    await fs.rm(root, { recursive: true, force: true });
  });

  const dbName = () => new URL(bouncer!.url).pathname.slice(1);

  /** One row of PgBouncer's admin console (SHOW POOLS / CLIENTS / SERVERS) per line, for the test database. */
  async function show(what: 'POOLS' | 'CLIENTS' | 'SERVERS'): Promise<Array<Record<string, string>>> {
    const admin = new URL(bouncer!.url);
    admin.pathname = '/pgbouncer';
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      // The admin console speaks the simple query protocol only (no parameters).
      const res = await client.query(`SHOW ${what}`);
      return (res.rows as Array<Record<string, string>>).filter((r) => r.database === dbName());
    } finally {
      await client.end();
    }
  }

  async function failedJobs(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const q of ctx.hub.producer.allQueues()) {
      const failed = (await q.getJobCounts('failed')).failed ?? 0;
      if (failed > 0) out[q.name] = failed;
    }
    return out;
  }

  // Not maintenance: its retention-sweep scheduler always keeps one delayed job there.
  const idle = () => ctx.queuesIdle({ timeoutMs: 30000, queues: [QueueName.ZoomEvents, QueueName.RtmsStreams, QueueName.MediaFrames] });
  const count = async (sql: string, params: unknown[]) => (await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM ${sql}`, params))[0].n;

  afterEach(async () => {
    // Whatever a test did, the hub's work through the pooler never failed a job, and the pooler never opened more than its pool.
    expect(await failedJobs()).toEqual({});
    const servers = await show('SERVERS');
    expect(servers.length).toBeLessThanOrEqual(POOL_SIZE);
  });

  it('the hub reaches Postgres only through PgBouncer, in transaction mode', async () => {
    const [pool] = await show('POOLS');
    expect(pool).toMatchObject({ database: dbName(), pool_mode: 'transaction' });
    // The hub answers from the database (a read through the pooler).
    await ctx.http().get('/api/v1/sessions?limit=1').set('x-api-key', API_KEY).expect(200);
    expect((await show('CLIENTS')).length).toBeGreaterThan(0);
  });

  let sessionId: string;

  it('a simulated meeting runs end to end: webhook → stream → media stored → stopped, with recording.ready', async () => {
    const speaks = (user: number) => SPEECH.filter((s) => s.user === user).map((s) => ({ atMs: s.atMs, text: s.text, durationMs: 1000 }));
    const chat = (user: number) => CHAT.filter((c) => c.user === user).map((c) => ({ atMs: c.atMs, text: c.text }));
    const script: ParticipantScript[] = [
      { userId: ANN, name: 'Ann Pooled', speaks: speaks(ANN), chat: chat(ANN) },
      { userId: BOB, name: 'Bob Pooled', speaks: speaks(BOB), chat: chat(BOB) },
    ];
    const kinds: MediaKind[] = ['audio', 'video', 'transcript', 'chat'];
    const meeting = ctx.sim.createMeeting({ participants: waitingParticipants(script) });
    ({ id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: { media_types: kinds } }));
    const stream = await ctx.sim.startRtms(meeting.id);
    // The script runs from the moment media flows; the meeting ends 12 s (meeting time) later.
    await playMeeting(ctx.sim, meeting.id, stream.streamId, script, kinds, 12000);
    await waitFor(async () => ((await ctx.hub.producer.queueFor(JobName.StreamRun).getJob(stream.streamId))?.finishedOn ? true : undefined), {
      timeoutMs: 60000,
      what: 'the stream job to finish',
    });
    await idle();
    await waitFor(async () => (await count(`session_events WHERE session_id = $1 AND event_type = 'recording.ready'`, [sessionId])) === 1, { timeoutMs: 30000, what: 'recording.ready' });
    await idle();

    const session = (await ctx.http().get(`/api/v1/sessions/${sessionId}`).set('x-api-key', API_KEY).expect(200)).body;
    expect(session.status).toBe('stopped');
    expect(session.received_counts).toMatchObject({ transcript_messages: SPEECH.length, chat_messages: CHAT.length, participants_seen: 2 });
    const [streamRow] = await query<{ status: string }>(ctx.hub.app, `SELECT status FROM rtms_streams WHERE rtms_stream_id = $1`, [stream.streamId]);
    expect(streamRow.status).toBe('stopped');
    // Everything the simulator said is stored: each transcript line and chat message once, audio and video.
    const lines = await query<{ text: string }>(ctx.hub.app, `SELECT text FROM transcript_segments WHERE session_id = $1 ORDER BY start_ms`, [sessionId]);
    expect(lines.map((l) => l.text)).toEqual(SPEECH.map((s) => s.text));
    expect(await count(`media_artifacts WHERE session_id = $1 AND kind = 'chat'`, [sessionId])).toBe(CHAT.length);
    expect(await count(`media_artifacts WHERE session_id = $1 AND kind = 'video_frame'`, [sessionId])).toBeGreaterThan(0);
    expect(await count(`audio_segments WHERE session_id = $1`, [sessionId])).toBeGreaterThan(0);
    expect(await count(`participants WHERE session_id = $1`, [sessionId])).toBe(2);
    const files = (await fs.readdir(path.join(root, 'recordings', sessionId), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    expect(files.length).toBeGreaterThan(0);
  });

  it('rtms_started webhooks racing on one meeting (the advisory-xact-lock paths): one session, each stream once, then all stopped', async () => {
    const STREAMS = 4;
    const DELIVERIES = 3;
    const meeting = ctx.sim.createMeeting({ participants: [{ userId: ANN, name: 'Ann Pooled' }] });
    const created = await createSession(ctx.hub, { meetingId: meeting.id });
    const streams = await Promise.all(Array.from({ length: STREAMS }, () => ctx.sim.startRtms(meeting.id)));
    // Zoom retries: each rtms_started again, several times, all at once with the simulator's own deliveries.
    const bodies = streams.flatMap((s) =>
      Array.from({ length: DELIVERIES }, () =>
        JSON.stringify({
          event: 'meeting.rtms_started',
          event_ts: Date.now(),
          payload: { meeting_uuid: s.meetingUuid, meeting_id: s.meetingId, operator_id: s.operatorId, rtms_stream_id: s.streamId, server_urls: s.serverUrls },
        }),
      ),
    );
    const answers = await Promise.all(
      bodies.map((body) => {
        const ts = String(Math.floor(Date.now() / 1000));
        return request(ctx.hub.app.getHttpServer())
          .post(WEBHOOK_PATH)
          .set({ 'x-zm-request-timestamp': ts, 'x-zm-signature': webhookSignature(TEST_ZOOM_APP.webhookSecretToken, ts, body), 'content-type': 'application/json' })
          .send(body);
      }),
    );
    expect(answers.map((a) => a.status)).toEqual(bodies.map(() => 200));
    // The pooler was shared: more hub connections than server connections at once.
    expect((await show('CLIENTS')).length).toBeGreaterThan(POOL_SIZE);

    const ids = streams.map((s) => s.streamId);
    await waitFor(async () => (await count(`rtms_streams WHERE rtms_stream_id = ANY($1::varchar[]) AND status = 'active'`, [ids])) === STREAMS, {
      timeoutMs: 60000,
      what: 'every stream connected',
    });
    expect(await count(`sessions WHERE meeting_uuid = $1`, [meeting.uuid])).toBe(1);
    expect(await count(`rtms_streams WHERE rtms_stream_id = ANY($1::varchar[]) AND session_id = $2`, [ids, created.id])).toBe(STREAMS);
    expect(await count(`session_events WHERE rtms_stream_id = ANY($1::varchar[]) AND event_type = 'stream.failover'`, [ids])).toBe(0);
    const jobs = await ctx.hub.producer.queueFor(JobName.StreamRun).getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
    expect(jobs.filter((j) => ids.includes(j.id as string)).length).toBe(STREAMS);

    ctx.sim.endMeeting(meeting.id);
    await waitFor(async () => (await count(`rtms_streams WHERE rtms_stream_id = ANY($1::varchar[]) AND status = 'stopped'`, [ids])) === STREAMS, {
      timeoutMs: 60000,
      what: 'every stream stopped',
    });
    await waitFor(async () => (await query<{ status: string }>(ctx.hub.app, `SELECT status FROM sessions WHERE id = $1`, [created.id]))[0].status === 'stopped', { what: 'session stopped' });
    await idle();
  });

  it('an erasure of one participant runs through the pooler: their rows go, the other\'s stay, one deletion_log entry', async () => {
    const before = await count(`transcript_segments WHERE session_id = $1 AND user_id = $2`, [sessionId, String(ANN)]);
    expect(before).toBeGreaterThan(0);
    const res = await ctx.http().post('/api/v1/erasures').set('x-api-key', API_KEY).send({ zoom_user_id: String(BOB) }).expect(202);
    const done = await waitFor(
      async () => {
        const r = await ctx.http().get(`/api/v1/erasures/${res.body.id}`).set('x-api-key', API_KEY).expect(200);
        return ['completed', 'failed'].includes(r.body.status) ? r.body : undefined;
      },
      { timeoutMs: 60000, what: 'the erasure to finish' },
    );
    expect(done.status).toBe('completed');
    expect(await count(`transcript_segments WHERE session_id = $1 AND user_id = $2`, [sessionId, String(BOB)])).toBe(0);
    expect(await count(`participants WHERE session_id = $1 AND zoom_user_id = $2`, [sessionId, String(BOB)])).toBe(0);
    expect(await count(`transcript_segments WHERE session_id = $1 AND user_id = $2`, [sessionId, String(ANN)])).toBe(before);
    expect(await count(`deletion_log WHERE session_id = $1 AND reason = 'erasure'`, [sessionId])).toBe(1);
    await idle();
  });
});
