import { UnrecoverableError } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';
import { jobIdFor } from '../src/jobs/job-ids';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { AppEventsService, AppEventType } from '../src/modules/app-events';
import { AppEventFanoutService } from '../src/modules/app-webhooks/fanout/app-event-fanout.service';
import { WebhookDeliverySweeper } from '../src/modules/app-webhooks/fanout/webhook-delivery.sweeper';
import { insertWebhookEndpoint, TestEndpoint } from './factories/webhook-endpoint.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { ReceivedWebhook, WebhookReceiver } from './utils/webhook-receiver';
import { waitFor, waitForJobState } from './utils/wait-for';

/**
 * Delivery of app events to an app's endpoint (a local receiver), with a worker in this
 * process: retries keep one webhook-id, 410 disables, a hanging receiver is cut. Every
 * request is verified with the `standardwebhooks` package, not with the hub's own code.
 */
describe('App webhooks: delivery, retries, 410 and timeouts', () => {
  const ctx = useE2eContext({
    hub: { api: false, worker: { queues: [QueueName.AppWebhooks], explicit: true } },
    env: () => ({ WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '0,1,1,1', WEBHOOK_TIMEOUT_MS: '700' }),
  });
  let receiver: WebhookReceiver;
  const db = () => ctx.hub.app.get(DataSource);
  const events = () => ctx.hub.app.get(AppEventsService);

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
  });

  afterEach(async () => {
    // Later tests' events must not reach this test's endpoint.
    await db().query(`UPDATE webhook_endpoints SET enabled = false`);
    await receiver.close();
  });

  /** Verifies a request as an app would, and returns its parsed body. */
  const verify = (endpoint: TestEndpoint, r: ReceivedWebhook) =>
    new Webhook(endpoint.secret).verify(r.body, { 'webhook-id': r.webhookId, 'webhook-timestamp': r.webhookTimestamp, 'webhook-signature': r.webhookSignature }) as { type: string; id: string; timestamp: string; data: Record<string, unknown> };

  const messagesOf = (endpointId: string) =>
    query<{ id: string; status: string; attempts: number; last_status_code: number | null }>(ctx.hub.app, `SELECT id, status, attempts, last_status_code FROM webhook_messages WHERE endpoint_id = $1`, [endpointId]);

  it('delivers a signed envelope; a receiver failing 3 times gets 4 attempts with one webhook-id, all in the log', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url('/hooks'), ['zoom_room.joined']);
    receiver.failTimes(3, 503);
    const event = await events().record({ type: AppEventType.ZoomRoomJoined, data: { dispatch_id: 'd1', room_id: 'r1', meeting_number: '81234567890' } });

    const got = await receiver.waitFor(4, { timeoutMs: 15_000, what: '4 attempts' });
    expect(got).toHaveLength(4);
    expect(new Set(got.map((r) => r.webhookId)).size).toBe(1);
    for (const r of got) {
      const body = verify(endpoint, r);
      expect(body).toEqual({ type: 'zoom_room.joined', id: event.id, timestamp: event.createdAt.toISOString(), data: { dispatch_id: 'd1', room_id: 'r1', meeting_number: '81234567890', session_id: null, sequence: null } });
      expect(r.path).toBe('/hooks');
      expect(r.headers['content-type']).toBe('application/json');
    }
    const [message] = await waitFor(async () => {
      const m = await messagesOf(endpoint.id);
      return m[0]?.status === 'succeeded' ? m : undefined;
    }, { what: 'the message to be succeeded' });
    expect(message).toMatchObject({ id: got[0].webhookId, attempts: 4, last_status_code: 200 });
    const attempts = await query<{ attempt_no: number; status_code: number; response_body: string; error: string | null; trigger: string }>(
      ctx.hub.app,
      `SELECT attempt_no, status_code, response_body, error, trigger FROM webhook_attempts WHERE message_id = $1 ORDER BY attempt_no`,
      [message.id],
    );
    expect(attempts).toEqual([
      { attempt_no: 1, status_code: 503, response_body: 'planned failure 503', error: 'HTTP 503', trigger: 'scheduled' },
      { attempt_no: 2, status_code: 503, response_body: 'planned failure 503', error: 'HTTP 503', trigger: 'scheduled' },
      { attempt_no: 3, status_code: 503, response_body: 'planned failure 503', error: 'HTTP 503', trigger: 'scheduled' },
      { attempt_no: 4, status_code: 200, response_body: 'ok', error: null, trigger: 'scheduled' },
    ]);
    // Retries follow the schedule (1 s ± 10 % between attempts).
    for (let i = 1; i < 4; i++) expect(got[i].receivedAt - got[i - 1].receivedAt).toBeGreaterThanOrEqual(850);
  });

  it('gives up when the schedule runs out: the message is failed with the last answer', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url(), ['zoom_room.left']);
    receiver.answer(500, 'down');
    await events().record({ type: AppEventType.ZoomRoomLeft, data: { dispatch_id: 'd2' } });
    const [m] = await waitFor(async () => {
      const rows = await messagesOf(endpoint.id);
      return rows[0]?.status === 'failed' ? rows : undefined;
    }, { timeoutMs: 15_000, what: 'the message to fail' });
    expect(m).toMatchObject({ attempts: 4, last_status_code: 500 });
    expect(receiver.requests).toHaveLength(4);
  });

  it('410 Gone disables the endpoint at once, fails its pending messages and records why', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url(), ['zoom_room.failed']);
    receiver.answer(410, 'gone');
    await events().record({ type: AppEventType.ZoomRoomFailed, data: { dispatch_id: 'd3' } });
    const [row] = await waitFor(async () => {
      const r = await query<{ enabled: boolean; disabled_reason: string | null }>(ctx.hub.app, `SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = $1`, [endpoint.id]);
      return r[0]?.enabled === false ? r : undefined;
    }, { what: 'the endpoint to be disabled' });
    expect(row.disabled_reason).toBe('the endpoint answered 410 Gone');
    expect(await messagesOf(endpoint.id)).toEqual([expect.objectContaining({ status: 'failed', attempts: 1, last_status_code: 410 })]);
    const records = await query<{ type: string; details: { reason: string } }>(ctx.hub.app, `SELECT type, details FROM webhook_endpoint_events WHERE endpoint_id = $1`, [endpoint.id]);
    expect(records).toEqual([{ type: 'endpoint.disabled', details: expect.objectContaining({ reason: 'the endpoint answered 410 Gone' }) }]);

    // Nothing more goes to a disabled endpoint.
    await events().record({ type: AppEventType.ZoomRoomFailed, data: { dispatch_id: 'd4' } });
    await ctx.queuesIdle({ timeoutMs: 10_000 });
    expect(receiver.requests).toHaveLength(1);
    expect(await messagesOf(endpoint.id)).toHaveLength(1);
  });

  it('cuts a hanging receiver at WEBHOOK_TIMEOUT_MS and retries the same message', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url(), ['media.deleted']);
    receiver.hangNext().always({ status: 202 });
    await events().record({ type: AppEventType.MediaDeleted, data: { reason: 'stream_revoked', rtms_stream_id: 's1', artifacts_deleted: 3 } });
    const [m] = await waitFor(async () => {
      const rows = await messagesOf(endpoint.id);
      return rows[0]?.status === 'succeeded' ? rows : undefined;
    }, { timeoutMs: 15_000, what: 'the message to be delivered on the second attempt' });
    const attempts = await query<{ attempt_no: number; status_code: number | null; latency_ms: number; error: string | null }>(
      ctx.hub.app,
      `SELECT attempt_no, status_code, latency_ms, error FROM webhook_attempts WHERE message_id = $1 ORDER BY attempt_no`,
      [m.id],
    );
    expect(attempts[0]).toMatchObject({ attempt_no: 1, status_code: null, error: 'timed out after 700 ms' });
    expect(attempts[0].latency_ms).toBeGreaterThanOrEqual(690);
    expect(attempts[0].latency_ms).toBeLessThan(5_000);
    expect(attempts[1]).toMatchObject({ attempt_no: 2, status_code: 202, error: null });
    expect(receiver.requests[0].webhookId).toBe(receiver.requests[1].webhookId);
  });

  it('fans an event out once per subscribed endpoint, and not to endpoints that did not subscribe', async () => {
    const [a, b] = [await insertWebhookEndpoint(ctx.hub.app, receiver.url('/a'), ['*']), await insertWebhookEndpoint(ctx.hub.app, receiver.url('/b'), ['participant.joined'])];
    const none = await insertWebhookEndpoint(ctx.hub.app, receiver.url('/none'), ['participant.left']);
    const optInOnly = await insertWebhookEndpoint(ctx.hub.app, receiver.url('/transcript'), ['transcript.segment']);
    const joined = await events().record({ type: AppEventType.ParticipantJoined, data: { participant: { user_id: '1', user_name: 'Ann' } } });
    // `*` does not include the opt-in transcript.segment.
    await events().record({ type: AppEventType.TranscriptSegment, data: { text: 'hello' } });
    await receiver.waitFor(3, { what: 'three deliveries' });
    await ctx.queuesIdle({ timeoutMs: 10_000 });
    const byPath = (p: string) => receiver.requests.filter((r) => r.path === p).map((r) => JSON.parse(r.body) as { type: string; id: string });
    expect(byPath('/a')).toEqual([expect.objectContaining({ type: 'participant.joined', id: joined.id })]);
    expect(byPath('/b')).toEqual([expect.objectContaining({ type: 'participant.joined', id: joined.id })]);
    expect(byPath('/none')).toEqual([]);
    expect(byPath('/transcript')).toEqual([expect.objectContaining({ type: 'transcript.segment' })]);
    verify(a, receiver.requests.find((r) => r.path === '/a') as ReceivedWebhook);
    verify(b, receiver.requests.find((r) => r.path === '/b') as ReceivedWebhook);
    expect(none.id).toBeDefined();
    expect(optInOnly.id).toBeDefined();
    // The fan-out ran once: re-running it adds no message.
    const { AppEventFanoutService } = await import('../src/modules/app-webhooks/fanout/app-event-fanout.service');
    await ctx.hub.app.get(AppEventFanoutService).fanout(joined.id);
    const n = await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM webhook_messages WHERE event_id = $1`, [joined.id]);
    expect(n[0].n).toBe(2);
  });

  it('a fan-out that failed for good (Postgres down through its retries) is queued again by the sweeper and delivered', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url('/late'), ['recording.ready']);
    const fanout = ctx.hub.app.get(AppEventFanoutService);
    const spy = jest.spyOn(fanout, 'fanout').mockRejectedValueOnce(new UnrecoverableError('Connection terminated unexpectedly'));
    let eventId = '';
    try {
      eventId = (await events().record({ type: AppEventType.RecordingReady, data: { complete: true } })).id;
      await waitForJobState(ctx.hub.producer.queueFor(JobName.AppEventFanout), jobIdFor(JobName.AppEventFanout, { eventId }) as string, 'failed');
    } finally {
      spy.mockRestore();
    }
    expect(await messagesOf(endpoint.id)).toEqual([]);

    // The failed job keeps the event's job id; the sweep replaces it rather than add nothing.
    const swept = await ctx.hub.app.get(WebhookDeliverySweeper).sweep({ fanoutGraceMs: 0, overdueMs: 3_600_000 });
    expect(swept.events).toBeGreaterThanOrEqual(1);
    const [r] = await receiver.waitFor(1, { what: 'the swept event' });
    expect(verify(endpoint, r)).toMatchObject({ id: eventId, type: 'recording.ready' });
  });

  it('records an event in the caller transaction: a rollback announces nothing, a commit queues it after the commit', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url(), ['oauth.connection.revoked']);
    await db()
      .transaction(async (em) => {
        await events().record({ type: AppEventType.OAuthRevoked, data: { connection_id: 'rolled-back' } }, em);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    let committedId = '';
    await db().transaction(async (em) => {
      committedId = (await events().record({ type: AppEventType.OAuthRevoked, data: { connection_id: 'kept' } }, em)).id;
      // Not queued before the commit: nothing can be delivered yet.
      expect(await ctx.hub.producer.queueFor('app-event.fanout' as never).getJob(`app-event-${committedId}`)).toBeUndefined();
    });
    const [r] = await receiver.waitFor(1, { what: 'the committed event' });
    expect(verify(endpoint, r)).toMatchObject({ id: committedId, data: { connection_id: 'kept' } });
    await ctx.queuesIdle({ timeoutMs: 10_000 });
    expect(receiver.requests).toHaveLength(1);
    const stored = await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM app_events WHERE data->>'connection_id' = 'rolled-back'`);
    expect(stored[0].n).toBe(0);
  });
});

describe('App webhooks: an endpoint failing for WEBHOOK_DISABLE_AFTER_HOURS is disabled', () => {
  const ctx = useE2eContext({
    hub: { api: false, worker: { queues: [QueueName.AppWebhooks], explicit: true } },
    // 1.5 s: attempts at 0, 1 and 2 s all fail, so the third finds the endpoint failing for longer.
    env: () => ({ WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '0,1,1,1,1', WEBHOOK_DISABLE_AFTER_HOURS: String(1.5 / 3600) }),
  });
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
  });

  afterAll(async () => {
    await receiver.close();
  });

  it('disables it, records endpoint.disabled with the time it started failing, and fails its pending messages', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url(), ['session.created']);
    receiver.answer(502, 'upstream down');
    await ctx.hub.app.get(AppEventsService).record({ type: AppEventType.SessionCreated, data: { session: { id: 's' } } });
    const [row] = await waitFor(async () => {
      const r = await query<{ enabled: boolean; disabled_reason: string | null; failing_since: Date | null }>(
        ctx.hub.app,
        `SELECT enabled, disabled_reason, failing_since FROM webhook_endpoints WHERE id = $1`,
        [endpoint.id],
      );
      return r[0]?.enabled === false ? r : undefined;
    }, { timeoutMs: 15_000, what: 'the endpoint to be disabled' });
    expect(row.disabled_reason).toBe(`every delivery failed since ${(row.failing_since as Date).toISOString()}`);
    const [m] = await query<{ status: string; attempts: number }>(ctx.hub.app, `SELECT status, attempts FROM webhook_messages WHERE endpoint_id = $1`, [endpoint.id]);
    expect(m).toEqual({ status: 'failed', attempts: 3 });
    const records = await query<{ type: string }>(ctx.hub.app, `SELECT type FROM webhook_endpoint_events WHERE endpoint_id = $1`, [endpoint.id]);
    expect(records).toEqual([{ type: 'endpoint.disabled' }]);
    expect(receiver.requests).toHaveLength(3);
  });
});
