import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { QueueName } from '../src/jobs/queue-names';
import { RtmsControlProcessor } from '../src/modules/rtms-control';
import { RtmsControlSweeper } from '../src/modules/rtms-control/rtms-control.sweeper';
import { SessionStatus, SessionsService } from '../src/modules/sessions';
import { SimMeeting, SimUser } from '../src/simulator';
import { connectZoomUser, newZoomUser } from './factories/oauth-connection.factory';
import { createSession } from './factories/session.factory';
import { TEST_ZOOM_APP, useE2eContext } from './utils/e2e-context';
import { API_KEY } from './utils/test-app';
import { waitFor, waitForJobState } from './utils/wait-for';

const REDIRECT_URI = 'https://ctx.hub.example.test/api/v1/oauth/zoom/callback';
const S2S = { clientId: 'rtms_e2e_s2s', clientSecret: 'rtms_e2e_s2s_secret', accountId: 'rtms_e2e_account' };
const CLIENT_ID = TEST_ZOOM_APP.clientId;

interface RequestRow {
  id: string;
  status: string;
  attempts: number;
  throttled_count: number;
  zoom_status: number | null;
  zoom_code: string | null;
  zoom_message: string | null;
  error: string | null;
  auth_mode: string;
}

describe('RTMS control: start/stop/pause/resume through durable jobs', () => {
  const ctx = useE2eContext({
    simulator: { s2s: S2S, redirectUris: [REDIRECT_URI] },
    hub: { api: true, worker: { queues: [QueueName.RtmsControl, QueueName.ZoomEvents, QueueName.OAuth], explicit: true } },
    env: () => ({
      ZOOM_REDIRECT_URI: REDIRECT_URI,
      ZOOM_S2S_CLIENT_ID: S2S.clientId,
      ZOOM_S2S_CLIENT_SECRET: S2S.clientSecret,
      ZOOM_ACCOUNT_ID: S2S.accountId,
      ZOOM_HTTP_TIMEOUT_MS: '2000',
      JOB_ATTEMPTS: '4',
      JOB_BACKOFF_MS: '50',
    }),
  });
  let db: DataSource;
  let host: SimUser;
  let connectionId: string;

  const server = () => ctx.hub.app.getHttpServer();
  const api = (method: 'get' | 'post', path: string) => request(server())[method](`/api/v1${path}`).set('x-api-key', API_KEY);
  const patches = (meetingId: number) => ctx.sim.restLog.filter((c) => c.method === 'PATCH' && c.path === `/v2/live_meetings/${meetingId}/rtms_app/status`);
  const requestRow = async (id: string): Promise<RequestRow> => (await db.query('SELECT * FROM rtms_control_requests WHERE id = $1', [id]))[0] as RequestRow;
  const sessionRow = async (id: string) =>
    (await db.query('SELECT status, failure_reason, stop_reason FROM sessions WHERE id = $1', [id]))[0] as { status: string; failure_reason: string | null; stop_reason: number | null };

  const connectHost = () => connectZoomUser(ctx.hub, ctx.sim, host);

  function newMeeting(): SimMeeting {
    return ctx.sim.createMeeting({ hostUserId: host.id, participants: [] });
  }

  async function newSession(meeting: SimMeeting): Promise<string> {
    return (await createSession(ctx.hub, { meetingId: meeting.id })).id;
  }

  function act(sessionId: string, action: string, body: Record<string, unknown> = { connection_id: connectionId }, key?: string): request.Test {
    const req = api('post', `/sessions/${sessionId}/rtms/${action}`);
    if (key) req.set('Idempotency-Key', key);
    return req.send(body);
  }

  /** The job once BullMQ has finished it (its row settles just before: attemptsMade counts only then). */
  const finishedJob = (jobId: string, state: 'completed' | 'failed') => waitForJobState(ctx.hub.producer.queue(QueueName.RtmsControl), jobId, state);

  async function settled(requestId: string): Promise<RequestRow> {
    return waitFor(
      async () => {
        const row = await requestRow(requestId);
        return row.status === 'succeeded' || row.status === 'failed' ? row : undefined;
      },
      { what: `control request ${requestId} to settle`, timeoutMs: 15000 },
    );
  }

  async function sessionStatus(sessionId: string, status: string): Promise<void> {
    await waitFor(async () => (await sessionRow(sessionId)).status === status, { what: `session ${sessionId} to be ${status}` });
  }

  /** A session whose RTMS stream is running (start accepted, rtms_started applied). */
  async function streamingSession(): Promise<{ sessionId: string; meeting: SimMeeting }> {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    const res = await act(sessionId, 'start').expect(202);
    await settled(res.body.request.id);
    await sessionStatus(sessionId, 'streaming');
    return { sessionId, meeting };
  }

  beforeAll(async () => {
    db = ctx.hub.app.get(DataSource);
    host = newZoomUser('rtms_host', { email: 'host@example.test', first_name: 'Meeting', last_name: 'Host' });
    connectionId = await connectHost();
  });

  it('start: one well-formed PATCH as the connected host, meeting.rtms_started arrives, the session streams', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    const res = await act(sessionId, 'start', { connection_id: connectionId, participant_user_id: host.id }).expect(202);
    expect(res.body).toMatchObject({ replayed: false, session: { id: sessionId, status: 'created' }, request: { action: 'start', auth_mode: 'user', connection_id: connectionId } });
    expect(typeof res.body.job_id).toBe('string');
    const job = await ctx.hub.producer.queue(QueueName.RtmsControl).getJob(res.body.job_id);
    expect(job?.name).toBe('rtms.start');
    expect(job?.data).toEqual({ sessionId, requestId: res.body.request.id });

    const row = await settled(res.body.request.id);
    expect(row).toMatchObject({ status: 'succeeded', zoom_status: 202, attempts: 1 });
    const calls = patches(meeting.id);
    expect(calls).toHaveLength(1);
    expect(JSON.parse(calls[0].body)).toEqual({ action: 'start', settings: { client_id: CLIENT_ID, participant_user_id: host.id } });
    expect(calls[0].headers['content-type']).toContain('application/json');
    expect(String(calls[0].headers.authorization)).toMatch(/^Bearer sim_at_/);

    await waitFor(() => ctx.sim.webhookLog.find((w) => w.event === 'meeting.rtms_started' && w.body.includes(String(meeting.id)) && w.status === 200), {
      what: 'the rtms_started webhook to be delivered',
    });
    await sessionStatus(sessionId, 'streaming');
    const status = await api('get', `/sessions/${sessionId}/rtms`).expect(200);
    expect(status.body).toMatchObject({ session_id: sessionId, session_status: 'streaming', last_request: { id: res.body.request.id, action: 'start', status: 'succeeded', zoom_status: 202 } });
    expect(status.body.stream).toMatchObject({ rtms_stream_id: expect.any(String) });
    const events = await api('get', `/sessions/${sessionId}/events`).expect(200);
    expect(events.body.data.map((e: { event_type: string }) => e.event_type)).toContain('rtms.start_requested');
  });

  it('pause, resume and stop move the session and send one PATCH each', async () => {
    const { sessionId, meeting } = await streamingSession();
    const pause = await act(sessionId, 'pause').expect(202);
    await settled(pause.body.request.id);
    await sessionStatus(sessionId, 'paused');
    const resume = await act(sessionId, 'resume').expect(202);
    await settled(resume.body.request.id);
    await sessionStatus(sessionId, 'streaming');
    const stop = await act(sessionId, 'stop').expect(202);
    expect((await settled(stop.body.request.id)).status).toBe('succeeded');
    await sessionStatus(sessionId, 'stopped');
    expect((await sessionRow(sessionId)).stop_reason).toBe(25); // MANUAL_API_TRIGGERED
    expect(patches(meeting.id).map((c) => JSON.parse(c.body).action)).toEqual(['start', 'pause', 'resume', 'stop']);
    await waitFor(() => ctx.sim.webhookLog.find((w) => w.event === 'meeting.rtms_stopped' && w.body.includes(meeting.uuid)), { what: 'rtms_stopped webhook' });
  });

  it('a stop our API asked for signals the stream worker to send STREAM_CLOSE_REQ at once', async () => {
    const { sessionId } = await streamingSession();
    const [stream] = (await db.query('SELECT rtms_stream_id FROM rtms_streams WHERE session_id = $1', [sessionId])) as Array<{ rtms_stream_id: string }>;
    const subscriber = new Redis(process.env.REDIS_URL as string);
    const signals: Array<{ type: string; rtmsStreamId: string }> = [];
    try {
      await subscriber.subscribe(`${process.env.QUEUE_PREFIX}:stream-signals`);
      subscriber.on('message', (_channel: string, message: string) => signals.push(JSON.parse(message)));
      const stop = await act(sessionId, 'stop').expect(202);
      expect((await settled(stop.body.request.id)).status).toBe('succeeded');
      await waitFor(() => signals.find((s) => s.type === 'close' && s.rtmsStreamId === stream.rtms_stream_id), { what: 'close signal' });
    } finally {
      await subscriber.quit();
    }
  });

  it('refuses actions that make no sense in the session state (409) without calling Zoom', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    for (const action of ['stop', 'pause', 'resume']) {
      const res = await act(sessionId, action).expect(409);
      expect(res.body).toMatchObject({ error: 'invalid_session_state' });
    }
    const { sessionId: streaming } = await streamingSession();
    expect((await act(streaming, 'start').expect(409)).body.error).toBe('invalid_session_state');
    expect((await act(streaming, 'resume').expect(409)).body.error).toBe('invalid_session_state');
    expect(patches(meeting.id)).toHaveLength(0);
  });

  it('a second request while one is in flight is refused with 409', async () => {
    const { sessionId, meeting } = await streamingSession();
    ctx.sim.faults.slowRest({ match: '/rtms_app/status', method: 'PATCH', delayMs: 800 });
    const first = await act(sessionId, 'pause').expect(202);
    const second = await act(sessionId, 'stop').expect(409);
    expect(second.body.error).toBe('control_request_in_progress');
    await settled(first.body.request.id);
    expect(patches(meeting.id).map((c) => JSON.parse(c.body).action)).toEqual(['start', 'pause']);
  });

  it('Idempotency-Key: the same request returns the first job; a different one with the key is refused', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    const key = `idem-${randomBytes(6).toString('hex')}`;
    const [a, b] = await Promise.all([act(sessionId, 'start', { connection_id: connectionId }, key), act(sessionId, 'start', { connection_id: connectionId }, key)]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.job_id).toBe(b.body.job_id);
    expect([a.body.replayed, b.body.replayed].sort()).toEqual([false, true]);
    await settled(a.body.request.id);
    await sessionStatus(sessionId, 'streaming');
    // Later replays still answer with the first job, even though a new start would now be a 409.
    const c = await act(sessionId, 'start', { connection_id: connectionId }, key).expect(202);
    expect(c.body).toMatchObject({ job_id: a.body.job_id, replayed: true, request: { status: 'succeeded' }, session: { status: 'streaming' } });
    const other = await act(sessionId, 'stop', { connection_id: connectionId }, key).expect(422);
    expect(other.body.error).toBe('idempotency_key_reused');
    expect(patches(meeting.id)).toHaveLength(1);
    await act(sessionId, 'pause', { connection_id: connectionId }, 'bad key with spaces').expect(400);
  });

  it('429 then 2xx: retried after Retry-After without using an attempt', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    ctx.sim.faults.rest429(`/v2/live_meetings/${meeting.id}/rtms_app/status`, 1, 1);
    const res = await act(sessionId, 'start').expect(202);
    await waitFor(async () => (await requestRow(res.body.request.id)).status === 'retrying', { what: 'the request to wait for Retry-After' });
    // The row says retrying just before the job moves to delayed.
    await waitForJobState(ctx.hub.producer.queue(QueueName.RtmsControl), res.body.job_id, 'delayed');
    const row = await settled(res.body.request.id);
    expect(row).toMatchObject({ status: 'succeeded', throttled_count: 1, attempts: 2, zoom_status: 202 });
    const calls = patches(meeting.id);
    expect(calls.map((c) => c.status)).toEqual([429, 202]);
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(950);
    const done = await finishedJob(res.body.job_id, 'completed');
    expect(done.attemptsMade).toBe(1);
    await sessionStatus(sessionId, 'streaming');
  });

  it('500 twice then 2xx: exponential backoff, then success', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    ctx.sim.faults.rest5xx(`/v2/live_meetings/${meeting.id}/rtms_app/status`, 2, 500);
    const res = await act(sessionId, 'start').expect(202);
    const row = await settled(res.body.request.id);
    expect(row).toMatchObject({ status: 'succeeded', attempts: 3, zoom_status: 202, zoom_code: null });
    expect(patches(meeting.id).map((c) => c.status)).toEqual([500, 500, 202]);
    const calls = patches(meeting.id);
    // Exponential backoff from JOB_BACKOFF_MS=50: at least 50 ms, then at least 100 ms.
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(45);
    expect(calls[2].at - calls[1].at).toBeGreaterThanOrEqual(95);
    const job = await finishedJob(res.body.job_id, 'completed');
    expect(job.opts.backoff).toEqual({ type: 'exponential', delay: 50 });
    expect(job.attemptsMade).toBe(3);
    await sessionStatus(sessionId, 'streaming');
  });

  it('5xx on every attempt: gives up after JOB_ATTEMPTS and fails the start', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    ctx.sim.faults.rest5xx(`/v2/live_meetings/${meeting.id}/rtms_app/status`, 10, 503);
    const res = await act(sessionId, 'start').expect(202);
    const row = await settled(res.body.request.id);
    expect(row.status).toBe('failed');
    expect(row.attempts).toBe(4);
    expect(row.zoom_status).toBe(503);
    expect(row.error).toContain('gave up after 4 attempt(s)');
    expect(patches(meeting.id)).toHaveLength(4);
    await sessionStatus(sessionId, 'failed');
    ctx.sim.faults.clear();
  });

  it('400 (2308): fails at once, no retries, Zoom code recorded on the request and the session', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    ctx.sim.faults.rtmsControlError(meeting.id, { code: 2308 });
    const res = await act(sessionId, 'start').expect(202);
    const row = await settled(res.body.request.id);
    expect(row).toMatchObject({ status: 'failed', attempts: 1, zoom_status: 400, zoom_code: '2308' });
    expect(row.zoom_message).toContain('host');
    expect(patches(meeting.id)).toHaveLength(1);
    await sessionStatus(sessionId, 'failed');
    const session = await sessionRow(sessionId);
    expect(session.failure_reason).toContain('2308');
    const status = await api('get', `/sessions/${sessionId}/rtms`).expect(200);
    expect(status.body).toMatchObject({ session_status: 'failed', last_request: { status: 'failed', zoom_code: '2308', zoom_status: 400 } });
    const events = await api('get', `/sessions/${sessionId}/events`).expect(200);
    const failed = events.body.data.find((e: { event_type: string }) => e.event_type === 'rtms.start_failed');
    expect(failed.payload).toMatchObject({ zoom_code: '2308', zoom_status: 400 });
    const job = await finishedJob(res.body.job_id, 'failed');
    expect(job.attemptsMade).toBe(1);

    // A failed start may be tried again; this time Zoom accepts.
    const again = await act(sessionId, 'start').expect(202);
    expect((await settled(again.body.request.id)).status).toBe('succeeded');
    await sessionStatus(sessionId, 'streaming');
  });

  it('a refused start is recorded whole or not at all: a failure while recording it leaves it for the retry', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    ctx.sim.faults.rtmsControlError(meeting.id, { code: 2308 }, 2);
    // The first attempt loses its database connection as it fails the session, after the
    // request was marked failed and the failure event written in the same transaction.
    const sessions = ctx.hub.app.get(SessionsService, { strict: false });
    const transition = sessions.transition.bind(sessions);
    let failMoves = 0;
    const spy = jest.spyOn(sessions, 'transition').mockImplementation(async (id, to, opts, em) => {
      if (id === sessionId && to === SessionStatus.Failed && failMoves++ === 0) throw new Error('Connection terminated unexpectedly');
      return transition(id, to, opts, em);
    });
    try {
      const res = await act(sessionId, 'start').expect(202);
      const job = await finishedJob(res.body.job_id, 'failed');
      // Rolled back, so the retry asked Zoom again and recorded the refusal once, whole.
      expect(job.attemptsMade).toBe(2);
      expect(failMoves).toBe(2);
      expect(await requestRow(res.body.request.id)).toMatchObject({ status: 'failed', attempts: 2, zoom_code: '2308' });
      expect(patches(meeting.id)).toHaveLength(2);
      await sessionStatus(sessionId, 'failed');
      const events = await api('get', `/sessions/${sessionId}/events`).expect(200);
      expect(events.body.data.filter((e: { event_type: string }) => e.event_type === 'rtms.start_failed')).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('a request whose job is gone is failed by the sweeper, so the session takes the next request', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    const worker = ctx.hub.app.get(RtmsControlProcessor).worker;
    await worker.pause();
    let requestId: string;
    try {
      const res = await act(sessionId, 'start').expect(202);
      requestId = res.body.request.id;
      // Redis loses the job before any worker took it (a flush, a failover to a stale replica).
      await (await ctx.hub.producer.queue(QueueName.RtmsControl).getJob(res.body.job_id))!.remove();
    } finally {
      worker.resume();
    }
    const refused = await act(sessionId, 'start').expect(409);
    expect(refused.body.error).toBe('control_request_in_progress');

    const sweeper = ctx.hub.app.get(RtmsControlSweeper, { strict: false });
    expect(await sweeper.sweep(0)).toBeGreaterThanOrEqual(1);
    const row = await requestRow(requestId);
    expect(row).toMatchObject({ status: 'failed', attempts: 0 });
    expect(row.error).toContain('its job was lost');
    await sessionStatus(sessionId, 'failed');
    expect(patches(meeting.id)).toHaveLength(0);

    const again = await act(sessionId, 'start').expect(202);
    expect((await settled(again.body.request.id)).status).toBe('succeeded');
    // A live request is left alone.
    expect(await sweeper.sweep(0)).toBe(0);
  });

  it('a start refused after Zoom started RTMS anyway (the host, from the Zoom client) leaves the streaming session streaming', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    const worker = ctx.hub.app.get(RtmsControlProcessor).worker;
    await worker.pause();
    let requestId: string;
    try {
      requestId = (await act(sessionId, 'start').expect(202)).body.request.id;
      // While the request waits, RTMS starts without it and the session streams.
      await ctx.sim.startRtms(meeting.id);
      await sessionStatus(sessionId, 'streaming');
      ctx.sim.faults.rtmsControlError(meeting.id, { code: 2308 });
    } finally {
      worker.resume();
    }
    expect(await settled(requestId)).toMatchObject({ status: 'failed', zoom_code: '2308' });
    const session = await sessionRow(sessionId);
    expect(session).toMatchObject({ status: 'streaming', failure_reason: null });
    const events = await api('get', `/sessions/${sessionId}/events`).expect(200);
    expect(events.body.data.map((e: { event_type: string }) => e.event_type)).toContain('rtms.start_failed');
    // The capture goes on: a stop is still possible.
    expect((await settled((await act(sessionId, 'stop').expect(202)).body.request.id)).status).toBe('succeeded');
    await sessionStatus(sessionId, 'stopped');
  });

  it('a start Zoom refused, then RTMS started from the Zoom client: the stream attaches to the app\'s session, not a new one with the defaults', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    ctx.sim.faults.rtmsControlError(meeting.id, { code: 2308 });
    expect((await settled((await act(sessionId, 'start').expect(202)).body.request.id)).status).toBe('failed');
    await sessionStatus(sessionId, 'failed');
    await ctx.sim.startRtms(meeting.id);
    await sessionStatus(sessionId, 'streaming');
    const rows: Array<{ id: string; failure_reason: string | null; ended_at: Date | null }> = await db.query('SELECT id, failure_reason, ended_at FROM sessions WHERE meeting_id = $1', [String(meeting.id)]);
    expect(rows).toEqual([{ id: sessionId, failure_reason: null, ended_at: null }]);
  });

  it('a start Zoom accepted that never streamed can be asked again (the session would otherwise wait for good)', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    // Zoom answers 2xx, but the app's concurrency limit is reached: no stream, no rtms_started.
    const limit = ctx.sim.options.concurrencyLimit;
    ctx.sim.options.concurrencyLimit = 0;
    try {
      const first = await act(sessionId, 'start').expect(202);
      expect((await settled(first.body.request.id)).status).toBe('succeeded');
      await sessionStatus(sessionId, 'rtms_start_requested');
    } finally {
      ctx.sim.options.concurrencyLimit = limit;
    }
    expect(ctx.sim.streamsOf(meeting.id)).toHaveLength(0);
    const again = await act(sessionId, 'start').expect(202);
    expect((await settled(again.body.request.id)).status).toBe('succeeded');
    await sessionStatus(sessionId, 'streaming');
    expect(patches(meeting.id)).toHaveLength(2);
  });

  it('400 (2310) on stop: recorded, the stream keeps running', async () => {
    const { sessionId, meeting } = await streamingSession();
    ctx.sim.faults.rtmsControlError(meeting.id, { code: 2310 });
    const res = await act(sessionId, 'stop').expect(202);
    const row = await settled(res.body.request.id);
    expect(row).toMatchObject({ status: 'failed', zoom_code: '2310', attempts: 1 });
    expect((await sessionRow(sessionId)).status).toBe('streaming');
  });

  it('a real 2308: a connected user who is not the host', async () => {
    const other = newZoomUser('rtms_guest', { email: 'guest@example.test', first_name: 'Guest', last_name: 'User' });
    const saved = host;
    host = other;
    const guestConnection = await connectHost();
    host = saved;
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    const res = await act(sessionId, 'start', { connection_id: guestConnection }).expect(202);
    expect(await settled(res.body.request.id)).toMatchObject({ status: 'failed', zoom_code: '2308' });
  });

  it('401: refreshes the token once and retries at once', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    const refreshes = ctx.sim.stats.tokenRefreshes;
    ctx.sim.expireAccessTokens(); // Zoom now rejects the stored (not yet locally expired) token
    const res = await act(sessionId, 'start').expect(202);
    const row = await settled(res.body.request.id);
    expect(row).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(patches(meeting.id).map((c) => c.status)).toEqual([401, 202]);
    expect(ctx.sim.stats.tokenRefreshes - refreshes).toBe(1);
  });

  it('without connection_id the Server-to-Server account token is used', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    const res = await act(sessionId, 'start', {}).expect(202);
    expect(res.body.request).toMatchObject({ auth_mode: 'account', connection_id: null });
    expect((await settled(res.body.request.id)).status).toBe('succeeded');
    const token = String(patches(meeting.id)[0].headers.authorization).slice(7);
    expect(ctx.sim.oauth.access.get(token)?.kind).toBe('account');
  });

  it('validates input: ids, body, unknown session, API key', async () => {
    const meeting = newMeeting();
    const sessionId = await newSession(meeting);
    await act('not-a-uuid', 'start').expect(400);
    await act('00000000-0000-4000-8000-000000000000', 'start').expect(404);
    await act(sessionId, 'start', { connection_id: 'nope' }).expect(400);
    await act(sessionId, 'start', { participant_user_id: 'bad id with spaces' }).expect(400);
    await act(sessionId, 'start', { surprise: true }).expect(400);
    await act(sessionId, 'start', { connection_id: '00000000-0000-4000-8000-000000000000' }).expect(404);
    await api('get', '/sessions/00000000-0000-4000-8000-000000000000/rtms').expect(404);
    await request(server()).post(`/api/v1/sessions/${sessionId}/rtms/start`).send({}).expect(401);
    await request(server()).get(`/api/v1/sessions/${sessionId}/rtms`).expect(401);
    const status = await api('get', `/sessions/${sessionId}/rtms`).expect(200);
    expect(status.body).toMatchObject({ session_status: 'created', last_request: null, stream: null });
    expect(patches(meeting.id)).toHaveLength(0);
  });
});
