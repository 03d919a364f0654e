import { TcpFaultProxy } from '../bench/tcp-fault-proxy';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { StreamEventsRecorder } from '../src/modules/media-ingest/stream/stream-events-recorder';
import { isLive, streamRow } from './factories/stream.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import type { TestApp } from './utils/test-app';
import { waitFor } from './utils/wait-for';

jest.setTimeout(120_000);

const OUTAGE_MS = 5000;

/**
 * The stream worker (a second in-process app, consuming rtms-streams only) reaches Postgres
 * through a fault proxy; the API and the zoom-events worker reach it directly. During a
 * simulated meeting Postgres is cut for 5 s while a participant joins, speaks (active
 * speaker) and leaves and the stream is paused, resumed and paused again: once Postgres
 * is back, every observation is recorded, in order, and the session ends up paused.
 */
describe('Stream observations survive a Postgres outage', () => {
  const ctx = useE2eContext({
    simulator: { keepAliveIntervalMs: 500, videoScale: 0.25 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents], explicit: true } },
  });
  let proxy: TcpFaultProxy;
  let worker: TestApp;

  beforeAll(async () => {
    const db = new URL(process.env.DATABASE_URL!);
    proxy = await new TcpFaultProxy({ host: db.hostname, port: Number(db.port || 5432) }).start();
    db.host = `127.0.0.1:${proxy.port}`;
    worker = await ctx.startApp({ api: false, worker: { queues: [QueueName.RtmsStreams], explicit: true } }, { DATABASE_URL: db.toString() });
  });

  afterAll(async () => {
    proxy?.restore();
    if (worker) await ctx.stopApp(worker);
    await proxy?.stop();
  });

  const sessionStatus = async (sessionId: string) => (await query<{ status: string }>(ctx.hub.app, `SELECT status FROM sessions WHERE id = $1`, [sessionId]))[0].status;

  it('joins, speaker, leave, pause/resume/pause seen during a 5 s outage are all recorded, in order, and the session is paused', async () => {
    const meeting = ctx.sim.createMeeting({ participants: [{ userId: 1, name: 'Ann' }] });
    const { streamId: id } = await ctx.sim.startRtms(meeting.id);
    await waitFor(() => isLive(ctx.sim, id) && ctx.sim.record(id).readyAcks.length > 0, { timeoutMs: 20_000, what: 'stream connected' });
    const { session_id: sessionId } = await waitFor(async () => ((await streamRow(ctx.hub, id))?.status === 'active' ? streamRow(ctx.hub, id) : undefined), { what: 'stream row active' });
    await waitFor(async () => (await query(ctx.hub.app, `SELECT 1 FROM participants WHERE session_id = $1 AND zoom_user_id = '1'`, [sessionId])).length === 1, { what: 'Ann recorded' });
    const view = () => ctx.sim.stream(id)!.view;

    // ── Postgres unreachable for the stream worker ──
    proxy.cut();
    const cutAt = Date.now();
    ctx.sim.addParticipant(meeting.id, { userId: 2, name: 'Bob', speaks: [{ atMs: ctx.sim.meeting(meeting.id)!.now() + 300, text: 'while the database is down', durationMs: 800 }] });
    await waitFor(() => view().present.has(2), { what: 'Bob joined (simulator)' });
    await waitFor(() => view().speaker === 2, { what: 'Bob is the active speaker (simulator)' });
    ctx.sim.removeParticipant(meeting.id, 2);
    await waitFor(() => !view().present.has(2), { what: 'Bob left (simulator)' });
    ctx.sim.pauseRtms(id);
    ctx.sim.resumeRtms(id);
    ctx.sim.pauseRtms(id);
    const recorder = worker.app.get(StreamEventsRecorder, { strict: false });
    // The outage lasts OUTAGE_MS whatever the scenario took (it took well under that).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, cutAt + OUTAGE_MS - Date.now())));
    const waitingDuringOutage = recorder.waiting;
    expect(await streamRow(ctx.hub, id)).toMatchObject({ status: 'active' });
    proxy.restore();

    // ── Back: everything is written, in order ──
    const observed = async () =>
      query<{ event_type: string; payload: Record<string, unknown> }>(
        ctx.hub.app,
        `SELECT event_type, payload FROM session_events WHERE rtms_stream_id = $1 AND event_type IN ('rtms.participant_joined', 'rtms.participant_left', 'rtms.active_speaker_changed', 'rtms.stream_state', 'rtms.session_state') ORDER BY created_at, id`,
        [id],
      );
    const summary = (rows: Array<{ event_type: string; payload: Record<string, unknown> }>) =>
      rows
        .map((r) => {
          const p = r.payload;
          const users = Array.isArray(p.participants) ? (p.participants as Array<{ user_id: number }>).map((u) => u.user_id).join(',') : String(p.user_id ?? '');
          return r.event_type === 'rtms.stream_state' || r.event_type === 'rtms.session_state' ? `${r.event_type}:${String(p.state_name)}` : `${r.event_type}:${users}`;
        })
        .filter((s) => !s.endsWith(':1'));
    const rows = await waitFor(async () => {
      const r = summary(await observed());
      return r.length >= 9 ? r : undefined;
    }, { timeoutMs: 20_000, what: 'the observations of the outage recorded' });
    expect(rows).toEqual([
      'rtms.participant_joined:2',
      'rtms.active_speaker_changed:2',
      'rtms.participant_left:2',
      'rtms.stream_state:Paused',
      'rtms.session_state:Paused',
      'rtms.stream_state:Resumed',
      'rtms.session_state:Resumed',
      'rtms.stream_state:Paused',
      'rtms.session_state:Paused',
    ]);
    const bob = await query<{ user_name: string; joined_at: Date; left_at: Date | null }>(ctx.hub.app, `SELECT user_name, joined_at, left_at FROM participants WHERE session_id = $1 AND zoom_user_id = '2'`, [sessionId]);
    expect(bob).toHaveLength(1);
    expect(bob[0].user_name).toBe('Bob');
    expect(bob[0].left_at).not.toBeNull();
    expect(bob[0].left_at!.getTime()).toBeGreaterThanOrEqual(bob[0].joined_at.getTime());
    // The session and the stream went paused → streaming → paused, and stay paused.
    const moves = await query<{ payload: { from: string; to: string } }>(ctx.hub.app, `SELECT payload FROM session_events WHERE session_id = $1 AND event_type = 'session.status_changed' ORDER BY created_at, id`, [sessionId]);
    expect(moves.map((m) => `${m.payload.from}→${m.payload.to}`).slice(-3)).toEqual(['streaming→paused', 'paused→streaming', 'streaming→paused']);
    expect(await sessionStatus(sessionId)).toBe('paused');
    await waitFor(async () => (await streamRow(ctx.hub, id)).status === 'paused', { what: 'stream row paused' });
    // The keep-alive time is written again (it was held, coalesced, during the outage).
    await waitFor(async () => ((await streamRow(ctx.hub, id)).last_keepalive_at?.getTime() ?? 0) > cutAt + OUTAGE_MS, { what: 'keep-alive time written after the outage' });
    // The gauge showed what was waiting: at least the join, speaker, leave and 3 × (stream + session state).
    expect(waitingDuringOutage).toBeGreaterThanOrEqual(9);
    await waitFor(() => recorder.waiting === 0, { what: 'nothing left waiting' });

    // ── The stream goes on and ends right ──
    ctx.sim.resumeRtms(id);
    await waitFor(async () => (await sessionStatus(sessionId)) === 'streaming', { what: 'session streaming again' });
    await ctx.sim.stopRtms(id, 6);
    await waitFor(async () => (await streamRow(ctx.hub, id)).status === 'stopped', { what: 'stream stopped' });
    expect(await sessionStatus(sessionId)).toBe('stopped');
  });

  it('a stream whose start fails while Postgres is down is tried again soon, using no attempt, and connects once Postgres is back', async () => {
    const queue = ctx.hub.producer.queueFor(JobName.StreamRun);
    const meeting = ctx.sim.createMeeting({ participants: [{ userId: 1, name: 'Ann' }] });
    proxy.cut();
    let id: string;
    try {
      ({ streamId: id } = await ctx.sim.startRtms(meeting.id));
      // Four back-to-back failures take 0.5 + 1 + 2 s of waits; with BullMQ's attempts (1, 2, 4 s …) the job would have used three.
      const failing = await waitFor(async () => {
        const job = await queue.getJob(id);
        return (job?.data.startFailures?.count ?? 0) >= 4 ? job : undefined;
      }, { timeoutMs: 30_000, what: 'four failed starts recorded on the job' });
      expect(failing!.attemptsMade).toBe(0);
      expect(await failing!.getState()).toBe('delayed');
    } finally {
      proxy.restore();
    }
    await waitFor(() => isLive(ctx.sim, id) && ctx.sim.record(id).readyAcks.length > 0, { timeoutMs: 20_000, what: 'stream connected after the outage' });
    await waitFor(async () => ((await streamRow(ctx.hub, id))?.status === 'active' ? true : undefined), { what: 'stream row active' });
    // The streak ends with the start that got through; nothing was spent of the job's attempts.
    const job = await waitFor(async () => {
      const j = await queue.getJob(id);
      return j && j.data.startFailures === undefined ? j : undefined;
    }, { what: 'the start failures cleared' });
    expect(job.attemptsMade).toBe(0);
    await ctx.sim.stopRtms(id, 6);
    await waitFor(async () => (await streamRow(ctx.hub, id)).status === 'stopped', { what: 'stream stopped' });
  });
});
