import { randomUUID } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import request from 'supertest';
import { jobIdFor } from '../src/jobs/job-ids';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { EventSource, SessionEventsService } from '../src/modules/sessions';
import { PendingEventsSweeper } from '../src/modules/webhooks/pending-events.sweeper';
import { ZoomEventHandlerService } from '../src/modules/webhooks/zoom-event-handler.service';
import { webhookSignature as simSignature } from '../src/simulator';
import { insertOAuthConnection } from './factories/oauth-connection.factory';
import { createSession } from './factories/session.factory';
import { query, tableCounts } from './utils/db';
import { TEST_ZOOM_APP, useE2eContext } from './utils/e2e-context';
import { API_KEY } from './utils/test-app';
import { waitFor, waitForJobState } from './utils/wait-for';

const SECRET = TEST_ZOOM_APP.webhookSecretToken;
const TABLES = ['sessions', 'rtms_streams', 'session_events', 'participants'];

/** Signs a body the way Zoom does, with the simulator's independent implementation. */
function signed(body: string, opts: { secret?: string; ts?: number } = {}) {
  const ts = String(opts.ts ?? Math.floor(Date.now() / 1000));
  return { 'x-zm-request-timestamp': ts, 'x-zm-signature': simSignature(opts.secret ?? SECRET, ts, body), 'content-type': 'application/json' };
}

/** A meeting.rtms_started body for the simulator's meeting, as Zoom sends it. */
function rtmsStartedBody(meeting: { uuid: string; id: number }, streamId: string, serverUrls: string): string {
  return JSON.stringify({
    event: 'meeting.rtms_started',
    event_ts: Date.now(),
    payload: { meeting_uuid: meeting.uuid, meeting_id: meeting.id, operator_id: 'op1', rtms_stream_id: streamId, server_urls: serverUrls },
  });
}

describe('Webhook intake and sessions API (against the Zoom simulator)', () => {
  const ctx = useE2eContext({ simulator: {}, hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.OAuth], explicit: true } } });
  // (oauth too: app_deauthorized asks the oauth module, by job, to drop the connections.)

  const streamJobs = () => ctx.hub.producer.queueFor(JobName.StreamRun).getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
  const server = () => ctx.hub.app.getHttpServer();

  it('answers Zoom URL validation (signed) and the simulator accepts the answer', async () => {
    const result = await ctx.sim.validateUrl();
    expect(result).toMatchObject({ ok: true, status: 200 });
  });

  it('serves only POST on the exact webhook path', async () => {
    await request(server()).get('/api/v1/webhooks/zoom').expect(404);
    const body = JSON.stringify({ event: 'x', payload: {} });
    await request(server()).post('/api/v1/webhooks/zoom/extra').set(signed(body)).send(body).expect(404);
  });

  it('refuses an unsigned URL validation (it would be an HMAC oracle)', async () => {
    const body = JSON.stringify({ event: 'endpoint.url_validation', payload: { plainToken: 'abc' }, event_ts: Date.now() });
    const res = await request(server()).post('/api/v1/webhooks/zoom').set('content-type', 'application/json').send(body).expect(401);
    expect(res.body).toMatchObject({ statusCode: 401, error: 'invalid_signature' });
  });

  it('rtms_started creates the session, the stream and one stream job; the app session is matched by meeting id', async () => {
    const meeting = ctx.sim.createMeeting({ participants: [{ userId: 1, name: 'Ada' }] });
    const created = await createSession(ctx.hub, {
      meetingId: meeting.id,
      capturePolicy: { media_types: ['audio', 'video'], video: { interval_ms: 2000, max_frames_per_user: 3 } },
      metadata: { team: 'qa' },
    });
    expect(created).toMatchObject({ status: 'created', meeting_id: String(meeting.id), capture_policy: { media_types: ['audio', 'video'], video: { interval_ms: 2000, max_frames_per_user: 3, skip_first_frames: 0 } } });

    const stream = await ctx.sim.startRtms(meeting.id);
    const session = await waitFor(
      async () => {
        const res = await request(server()).get(`/api/v1/sessions/${created.id}`).set('x-api-key', API_KEY);
        return res.body.status === 'streaming' ? res.body : undefined;
      },
      { what: 'session to be streaming' },
    );
    expect(session.meeting_uuid).toBe(meeting.uuid);
    expect(session.streams).toHaveLength(1);
    expect(session.streams[0]).toMatchObject({ rtms_stream_id: stream.streamId, status: 'pending' });
    // The stream job is added just after the session's move to streaming commits.
    const job = await waitFor(async () => (await streamJobs()).find((j) => j.id === stream.streamId), { what: 'the stream job' });
    expect(job?.data).toEqual({ rtmsStreamId: stream.streamId, sessionId: created.id });
    expect(ctx.sim.webhookLog.filter((w) => w.event === 'meeting.rtms_started').every((w) => w.status === 200)).toBe(true);

    const events = await request(server()).get(`/api/v1/sessions/${created.id}/events`).set('x-api-key', API_KEY).expect(200);
    const types = events.body.data.map((e: { event_type: string }) => e.event_type);
    expect(types).toEqual(expect.arrayContaining(['meeting.rtms_started', 'session.status_changed', 'session.created']));
  });

  it('the same webhook delivered 5 times is stored once, processed once and queues one job', async () => {
    const meeting = ctx.sim.createMeeting();
    const streamId = 'ab'.repeat(16);
    const body = rtmsStartedBody(meeting, streamId, ctx.sim.signalingUrl);
    const headers = signed(body);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => request(server()).post('/api/v1/webhooks/zoom').set(headers).send(body)),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.filter((a) => a.body.status === 'accepted')).toHaveLength(1);
    await waitFor(async () => (await query(ctx.hub.app, `SELECT status FROM session_events WHERE rtms_stream_id = $1`, [streamId]))[0]?.status === 'processed', {
      what: 'event processed',
    });
    const rows = await query(ctx.hub.app, `SELECT count(*)::int AS n FROM session_events WHERE event_type = 'meeting.rtms_started' AND rtms_stream_id = $1`, [streamId]);
    expect(rows[0].n).toBe(1);
    const jobs = (await streamJobs()).filter((j) => j.id === streamId);
    expect(jobs).toHaveLength(1);
    const streams = await query(ctx.hub.app, `SELECT count(*)::int AS n FROM rtms_streams WHERE rtms_stream_id = $1`, [streamId]);
    expect(streams[0].n).toBe(1);
  });

  it('an event whose job failed for good while its failure could not be recorded is queued again by the sweeper and applied', async () => {
    const handler = ctx.hub.app.get(ZoomEventHandlerService, { strict: false });
    // The job fails at once, and recording that fails too (Postgres unreachable just then): the row stays received.
    const handle = jest.spyOn(handler, 'handle').mockRejectedValueOnce(new UnrecoverableError('Connection terminated unexpectedly'));
    const markFailed = jest.spyOn(handler, 'markFailed').mockRejectedValueOnce(new Error('Connection terminated unexpectedly'));
    const meeting = ctx.sim.createMeeting();
    const streamId = 'cd'.repeat(16);
    const body = rtmsStartedBody(meeting, streamId, ctx.sim.signalingUrl);
    let eventId: string;
    try {
      await request(server()).post('/api/v1/webhooks/zoom').set(signed(body)).send(body).expect(200);
      eventId = (await query<{ id: string }>(ctx.hub.app, `SELECT id FROM session_events WHERE rtms_stream_id = $1`, [streamId]))[0].id;
      await waitForJobState(ctx.hub.producer.queueFor(JobName.ZoomEventProcess), jobIdFor(JobName.ZoomEventProcess, { eventId }) as string, 'failed');
      await waitFor(() => markFailed.mock.calls.length === 1, { what: 'the final failure to be recorded (and fail)' });
    } finally {
      handle.mockRestore();
      markFailed.mockRestore();
    }
    expect((await query<{ status: string }>(ctx.hub.app, `SELECT status FROM session_events WHERE id = $1`, [eventId]))[0].status).toBe('received');

    // The failed job is still kept under the event's job id; the sweep replaces it.
    expect(await ctx.hub.app.get(PendingEventsSweeper, { strict: false }).sweep(0)).toBeGreaterThanOrEqual(1);
    await waitFor(async () => (await query<{ status: string }>(ctx.hub.app, `SELECT status FROM session_events WHERE id = $1`, [eventId]))[0].status === 'processed', {
      what: 'the swept event to be processed',
    });
    await waitFor(async () => (await streamJobs()).some((j) => j.id === streamId), { what: 'the stream job of the swept event' });
  });

  it('the sweeper pages past 500 older events whose jobs are live: the lost ones behind them are queued again in one pass', async () => {
    const events = ctx.hub.app.get(SessionEventsService, { strict: false });
    const run = randomUUID().slice(0, 8);
    const ids = (await events.storeZoomEvents(
      Array.from({ length: 600 }, (_, i) => ({
        source: EventSource.Webhook,
        eventType: 'some.backlog_event',
        dedupeKey: `zoom:backlog-${run}-${i}`,
        rtmsStreamId: null,
        eventTs: i,
        payload: { event: 'some.backlog_event', event_ts: i, payload: { run } },
      })),
    )) as string[];
    // Before every other file's events, oldest first, a millisecond apart.
    await query(ctx.hub.app, `UPDATE session_events SET created_at = timestamptz '1991-01-01 00:00:00+00' + (event_ts * interval '1 millisecond') WHERE id = ANY($1::uuid[])`, [ids]);
    const backlog = ids.slice(0, 500);
    const lost = ids.slice(500);
    // The 500 oldest have live jobs (a backlog: delayed an hour); the 100 newest lost theirs.
    await ctx.hub.producer.enqueueBulk(
      JobName.ZoomEventProcess,
      backlog.map((eventId) => ({ data: { eventId }, opts: { delay: 3_600_000 } })),
    );
    const statuses = async (of: string[]) => (await query<{ status: string }>(ctx.hub.app, `SELECT status FROM session_events WHERE id = ANY($1::uuid[])`, [of])).map((r) => r.status);
    try {
      // Before the fix: 0 (one page of the 500 oldest, all with live jobs).
      expect(await ctx.hub.app.get(PendingEventsSweeper, { strict: false }).sweep(0)).toBeGreaterThanOrEqual(100);
      await waitFor(async () => (await statuses(lost)).every((s) => s === 'ignored'), { timeoutMs: 30_000, what: 'the 100 lost events to be applied' });
      // The backlog is left to its own jobs.
      expect(new Set(await statuses(backlog))).toEqual(new Set(['received']));
      const states = await Promise.all(backlog.slice(0, 5).map((eventId) => ctx.hub.producer.jobState(JobName.ZoomEventProcess, { eventId })));
      expect(states).toEqual(Array(5).fill('delayed'));
    } finally {
      await Promise.all(backlog.map((eventId) => ctx.hub.producer.queueFor(JobName.ZoomEventProcess).remove(jobIdFor(JobName.ZoomEventProcess, { eventId }) as string)));
      await query(ctx.hub.app, `UPDATE session_events SET status = 'ignored' WHERE id = ANY($1::uuid[]) AND status = 'received'`, [ids]);
    }
  });

  it('a repeated rtms_started with new server_urls is recorded as a failover', async () => {
    const meeting = ctx.sim.createMeeting();
    const stream = await ctx.sim.startRtms(meeting.id);
    await waitFor(async () => (await query(ctx.hub.app, `SELECT 1 FROM rtms_streams WHERE rtms_stream_id = $1`, [stream.streamId])).length === 1, { what: 'stream row' });
    const newUrls = ctx.sim.failover(stream.streamId);
    await waitFor(
      async () => (await query<{ failover_count: number; server_urls: string }>(ctx.hub.app, `SELECT failover_count, server_urls FROM rtms_streams WHERE rtms_stream_id = $1`, [stream.streamId]))[0]?.failover_count === 1,
      { what: 'failover recorded' },
    );
    const [row] = await query<{ server_urls: string }>(ctx.hub.app, `SELECT server_urls FROM rtms_streams WHERE rtms_stream_id = $1`, [stream.streamId]);
    expect(row.server_urls).toBe(newUrls);
    const failovers = await query(ctx.hub.app, `SELECT 1 FROM session_events WHERE event_type = 'stream.failover' AND rtms_stream_id = $1`, [stream.streamId]);
    expect(failovers).toHaveLength(1);
  });

  it('rtms_stopped stops the stream and the session with the stop reason by name and number', async () => {
    const meeting = ctx.sim.createMeeting();
    const stream = await ctx.sim.startRtms(meeting.id);
    await waitFor(async () => (await query(ctx.hub.app, `SELECT 1 FROM rtms_streams WHERE rtms_stream_id = $1`, [stream.streamId])).length === 1, { what: 'stream row' });
    await ctx.sim.stopRtms(stream.streamId, 6);
    const [session] = await waitFor(
      async () => {
        const rows = await query<{ status: string; stop_reason: number; stop_reason_name: string }>(
          ctx.hub.app,
          `SELECT s.status, s.stop_reason, s.stop_reason_name FROM sessions s JOIN rtms_streams r ON r.session_id = s.id WHERE r.rtms_stream_id = $1`,
          [stream.streamId],
        );
        return rows[0]?.status === 'stopped' ? rows : undefined;
      },
      { what: 'session stopped' },
    );
    expect(session).toEqual({ status: 'stopped', stop_reason: 6, stop_reason_name: 'STOP_BC_MEETING_ENDED' });
  });

  it('a stop that overtakes its start is retried until the start lands, then applied', async () => {
    const meeting = ctx.sim.createMeeting();
    const streamId = 'ef'.repeat(16);
    const post = (body: string) => request(server()).post('/api/v1/webhooks/zoom').set(signed(body)).send(body).expect(200);
    await post(JSON.stringify({ event: 'meeting.rtms_stopped', event_ts: Date.now(), payload: { meeting_uuid: meeting.uuid, rtms_stream_id: streamId, stop_reason: 6 } }));
    // The stop's job fails once (stream unknown) and waits for its retry.
    await waitFor(async () => (await ctx.hub.producer.queueFor(JobName.ZoomEventProcess).getJobs(['delayed'])).some((j) => j.attemptsMade >= 1), {
      what: 'the stop to be retried',
    });
    await post(rtmsStartedBody(meeting, streamId, ctx.sim.signalingUrl));
    const [row] = await waitFor(
      async () => {
        const rows = await query<{ status: string; stop_reason: number }>(
          ctx.hub.app,
          `SELECT s.status, s.stop_reason FROM sessions s JOIN rtms_streams r ON r.session_id = s.id WHERE r.rtms_stream_id = $1`,
          [streamId],
        );
        return rows[0]?.status === 'stopped' ? rows : undefined;
      },
      { what: 'the overtaking stop to be applied', timeoutMs: 15000 },
    );
    expect(row).toEqual({ status: 'stopped', stop_reason: 6 });
  });

  it('stores unknown and concurrency events and acknowledges them', async () => {
    const before = (await query(ctx.hub.app, `SELECT count(*)::int AS n FROM session_events WHERE event_type IN ('some.new_event', 'rtms.concurrency_near_limit')`))[0].n as number;
    ctx.sim.sendWebhook('some.new_event', { anything: true });
    ctx.sim.sendWebhook('rtms.concurrency_near_limit', { concurrency_limit: 2000, concurrency_number: 1700, percentage: 85 });
    await waitFor(
      async () => {
        const rows = await query<{ status: string }>(ctx.hub.app, `SELECT status FROM session_events WHERE event_type IN ('some.new_event', 'rtms.concurrency_near_limit') ORDER BY event_type`);
        return rows.length === before + 2 && rows.every((r) => r.status !== 'received') ? rows : undefined;
      },
      { what: 'both events handled' },
    );
    const statuses = await query<{ event_type: string; status: string }>(ctx.hub.app, `SELECT event_type, status FROM session_events WHERE event_type IN ('some.new_event', 'rtms.concurrency_near_limit') ORDER BY event_type`);
    expect(statuses).toEqual(expect.arrayContaining([{ event_type: 'rtms.concurrency_near_limit', status: 'processed' }, { event_type: 'some.new_event', status: 'ignored' }]));
    const metrics = await request(server()).get('/metrics').set('x-api-key', API_KEY).expect(200);
    expect(metrics.text).toMatch(/rtms_hub_rtms_concurrency_events_total\{event="rtms.concurrency_near_limit"\} [1-9]/);
  });

  it('app_deauthorized deletes that Zoom user\'s OAuth connections', async () => {
    const insert = (id: string, user: string) => insertOAuthConnection(ctx.hub, { id, zoomUserId: user, zoomAccountId: 'acct-1' });
    await insert('7c8f1a52-3d0e-4b8e-9c2f-1a2b3c4d5e6f', 'deauth-user');
    await insert('8d9f2b63-4e1f-4c9f-8d3a-2b3c4d5e6f70', 'other-user');
    ctx.sim.sendWebhook('app_deauthorized', { account_id: 'acct-1', user_id: 'deauth-user', client_id: 'test_client_id', deauthorization_time: new Date().toISOString() });
    await waitFor(async () => (await query(ctx.hub.app, `SELECT 1 FROM oauth_connections WHERE zoom_user_id = 'deauth-user'`)).length === 0, {
      what: 'the deauthorized user\'s connection to be deleted',
    });
    expect(await query(ctx.hub.app, `SELECT zoom_user_id FROM oauth_connections WHERE zoom_user_id = 'other-user'`)).toHaveLength(1);
    // The deletion ran in the oauth module's job; wait for it and the event's job to finish
    // so later snapshots of the queues are not taken mid-flight.
    const job = await waitFor(async () => (await ctx.hub.producer.queueFor(JobName.OAuthDeauthorize).getJobs(['completed'])).find((j) => j.name === JobName.OAuthDeauthorize), {
      what: 'the oauth.deauthorize job to complete',
    });
    expect(job.data).toEqual({ eventId: expect.any(String), zoomUserId: 'deauth-user', zoomAccountId: 'acct-1', deauthorizedAt: expect.any(String) });
    expect(job.returnvalue).toEqual({ removed: 1 });
    await ctx.queuesIdle();
  });

  it('app_deauthorized of another Zoom app (or naming none) leaves the connections of ours alone', async () => {
    const id = '9e0a3c74-5f20-4da0-9e4b-3c4d5e6f7081';
    await insertOAuthConnection(ctx.hub, { id, zoomUserId: 'two-apps-user', zoomAccountId: 'acct-2' });
    const outcome = async (marker: string) =>
      waitFor(
        async () => {
          const rows = await query<{ status: string; error: string | null }>(
            ctx.hub.app,
            `SELECT status, error FROM session_events WHERE event_type = 'app_deauthorized' AND payload->'payload'->>'deauthorization_time' = $1`,
            [marker],
          );
          return rows[0] && rows[0].status !== 'received' ? rows[0] : undefined;
        },
        { what: `the app_deauthorized event ${marker} to be handled` },
      );
    const send = (clientId: string | undefined) => {
      const marker = new Date(Date.now() + Math.floor(Math.random() * 1e9)).toISOString();
      ctx.sim.sendWebhook('app_deauthorized', { account_id: 'acct-2', user_id: 'two-apps-user', ...(clientId ? { client_id: clientId } : {}), deauthorization_time: marker });
      return outcome(marker);
    };
    expect(await send('another_apps_client_id')).toEqual({ status: 'ignored', error: 'app_deauthorized of another Zoom app' });
    expect(await send(undefined)).toEqual({ status: 'rejected', error: 'app_deauthorized without client_id' });
    expect(await query(ctx.hub.app, `SELECT 1 FROM oauth_connections WHERE id = $1`, [id])).toHaveLength(1);
    // Ours (the hub's ZOOM_CLIENT_ID) still removes it.
    expect((await send(TEST_ZOOM_APP.clientId)).status).toBe('processed');
    await waitFor(async () => (await query(ctx.hub.app, `SELECT 1 FROM oauth_connections WHERE id = $1`, [id])).length === 0, { what: 'our app_deauthorized to delete the connection' });
    await ctx.queuesIdle();
  });

  it('events with a NUL or a lone surrogate in a name are stored (U+FFFD in their place) with the events sent alongside', async () => {
    const event = (name: string, i: number) =>
      `{"event":"some.nul_event","event_ts":${Date.now()},"payload":{"n":${i},"object":{"participant":{"user_name":${name}}}}}`;
    const bodies = [event('"Ann\\u0000Lee"', 0), event('"x\\ud800y"', 1), ...[2, 3, 4].map((i) => event(`"ok ${i}"`, i))];
    const answers = await Promise.all(bodies.map((b) => request(server()).post('/api/v1/webhooks/zoom').set(signed(b)).send(b)));
    expect(answers.map((a) => [a.status, a.body.status])).toEqual(bodies.map(() => [200, 'accepted']));
    const rows = await query<{ n: number; name: string }>(
      ctx.hub.app,
      `SELECT (payload->'payload'->>'n')::int AS n, payload->'payload'->'object'->'participant'->>'user_name' AS name FROM session_events WHERE event_type = 'some.nul_event' ORDER BY 1`,
    );
    expect(rows).toEqual([
      { n: 0, name: 'Ann\uFFFDLee' },
      { n: 1, name: 'x\uFFFDy' },
      { n: 2, name: 'ok 2' },
      { n: 3, name: 'ok 3' },
      { n: 4, name: 'ok 4' },
    ]);
    await ctx.queuesIdle();
  });

  describe('refusals leave the database and the queues unchanged', () => {
    const startedBody = (serverUrls: string) =>
      JSON.stringify({
        event: 'meeting.rtms_started',
        event_ts: Date.now(),
        payload: { meeting_uuid: 'zz==', meeting_id: 12345678, operator_id: 'op', rtms_stream_id: 'cd'.repeat(16), server_urls: serverUrls },
      });

    async function snapshot() {
      const counts = await tableCounts(ctx.hub.app, TABLES);
      const queues = await Promise.all(ctx.hub.producer.allQueues().map((q) => q.getJobCountByTypes('waiting', 'active', 'delayed', 'completed', 'failed')));
      return { counts, queues };
    }

    it.each([
      ['a bad signature', () => ({ body: startedBody(ctx.sim.signalingUrl), headers: signed(startedBody(ctx.sim.signalingUrl), { secret: 'wrong-secret' }), status: 401, code: 'invalid_signature' })],
      ['a replay older than the window', () => {
        const body = startedBody(ctx.sim.signalingUrl);
        return { body, headers: signed(body, { ts: Math.floor(Date.now() / 1000) - 301 }), status: 401, code: 'invalid_signature' };
      }],
      ['a non-Zoom server_urls host', () => {
        const body = startedBody('wss://attacker.example.com/rtms');
        return { body, headers: signed(body), status: 400, code: 'disallowed_server_url' };
      }],
      ['malformed JSON', () => {
        const body = '{"event": "meeting.rtms_started", ';
        return { body, headers: signed(body), status: 400, code: 'malformed_json' };
      }],
      ['a 2 MB body', () => {
        const body = JSON.stringify({ event: 'meeting.rtms_started', payload: { pad: 'x'.repeat(2 * 1024 * 1024) } });
        return { body, headers: signed(body), status: 413, code: 'payload_too_large' };
      }],
      ['a body nested 100,000 deep (refused before it is parsed or verified)', () => {
        const body = `{"event":"x","payload":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
        return { body, headers: signed(body), status: 400, code: 'json_too_deep' };
      }],
      ['a body that is not an event', () => {
        const body = JSON.stringify([1, 2, 3]);
        return { body, headers: signed(body), status: 400, code: 'invalid_event' };
      }],
      ['an event whose payload is not an object', () => {
        const body = JSON.stringify({ event: 'meeting.rtms_stopped', event_ts: Date.now(), payload: 'x' });
        return { body, headers: signed(body), status: 400, code: 'invalid_event' };
      }],
      ['an event whose event_ts is not a number', () => {
        const body = JSON.stringify({ event: 'meeting.rtms_stopped', event_ts: 'y', payload: {} });
        return { body, headers: signed(body), status: 400, code: 'invalid_event' };
      }],
    ])('%s', async (_name, make) => {
      const { body, headers, status, code } = make();
      const before = await snapshot();
      const res = await request(server()).post('/api/v1/webhooks/zoom').set(headers).send(body);
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ statusCode: status, error: code });
      expect(await snapshot()).toEqual(before);
    });
  });

  describe('sessions API', () => {
    it('validates input: unknown fields, bad meeting id, bad policy → 400 and nothing stored', async () => {
      const before = await tableCounts(ctx.hub.app, ['sessions']);
      const cases = [
        { platform: 'zoom', meeting_id: '123456789', surprise: 1 },
        { platform: 'zoom', meeting_id: 'abc' },
        { platform: 'teams', meeting_id: '123456789' },
        { platform: 'zoom', meeting_id: '123456789', capture_policy: { media_types: ['smell'] } },
        { platform: 'zoom', meeting_id: '123456789', capture_policy: { audio: { segment_seconds: 0 } } },
        { platform: 'zoom', meeting_id: '123456789', capture_policy: { video: { interval_ms: 10, extra: true } } },
      ];
      for (const body of cases) {
        const res = await request(server()).post('/api/v1/sessions').set('x-api-key', API_KEY).send(body);
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ statusCode: 400, error: 'validation_failed' });
        expect(Array.isArray(res.body.details)).toBe(true);
      }
      expect(await tableCounts(ctx.hub.app, ['sessions'])).toEqual(before);
    });

    it('requires the API key', async () => {
      await request(server()).get('/api/v1/sessions').expect(401);
      await request(server()).post('/api/v1/sessions').send({ platform: 'zoom', meeting_id: '123456789' }).expect(401);
    });

    it('lists with filters and stable cursor pagination', async () => {
      const meetingId = String(9_000_000_000 + Math.floor(Math.random() * 1_000_000));
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push((await createSession(ctx.hub, { meetingId })).id);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: request.Response = await request(server())
          .get('/api/v1/sessions')
          .query({ meeting_id: meetingId, limit: 2, ...(cursor ? { cursor } : {}) })
          .set('x-api-key', API_KEY)
          .expect(200);
        seen.push(...res.body.data.map((s: { id: string }) => s.id));
        cursor = res.body.next_cursor;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());
      const filtered = await request(server()).get('/api/v1/sessions').query({ meeting_id: meetingId, status: 'streaming' }).set('x-api-key', API_KEY).expect(200);
      expect(filtered.body.data).toEqual([]);
      await request(server()).get('/api/v1/sessions').query({ cursor: 'garbage' }).set('x-api-key', API_KEY).expect(400);
      await request(server()).get('/api/v1/sessions').query({ status: 'nope' }).set('x-api-key', API_KEY).expect(400);
    });

    it('gets, lists participants, deletes, and 404s afterwards', async () => {
      const { id } = await createSession(ctx.hub, { meetingId: '555666777' });
      await request(server()).get(`/api/v1/sessions/${id}/participants`).set('x-api-key', API_KEY).expect(200, { data: [] });
      await request(server()).get('/api/v1/sessions/not-a-uuid').set('x-api-key', API_KEY).expect(400);
      await request(server()).delete(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY).expect(204);
      const gone = await request(server()).get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY).expect(404);
      expect(gone.body).toMatchObject({ error: 'session_not_found' });
      expect((await query(ctx.hub.app, 'SELECT count(*)::int AS n FROM session_events WHERE session_id = $1', [id]))[0].n).toBe(0);
    });
  });
});
