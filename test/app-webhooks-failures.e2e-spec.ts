import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { jobIdFor } from '../src/jobs/job-ids';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { AppEventsService, AppEventType } from '../src/modules/app-events';
import { AppWebhooksProcessor } from '../src/modules/app-webhooks';
import { WebhookDeliveryService } from '../src/modules/app-webhooks/delivery/webhook-delivery.service';
import { WebhookDeliverySweeper } from '../src/modules/app-webhooks/fanout/webhook-delivery.sweeper';
import { insertWebhookEndpoint } from './factories/webhook-endpoint.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { waitFor } from './utils/wait-for';
import { WebhookReceiver } from './utils/webhook-receiver';

jest.setTimeout(60_000);

/**
 * Failures that must end: a message whose request cannot be signed, or whose job fails
 * for good, moves along its schedule to `failed` (not pending for ever, re-queued by the
 * sweeper); the sweeper is not starved by overdue messages it cannot help; an endpoint
 * with few messages is not disabled by one failure long after its last.
 */
describe('App webhooks: failures that end', () => {
  const ctx = useE2eContext({
    hub: { api: false, worker: { queues: [QueueName.AppWebhooks], explicit: true } },
    // Two BullMQ tries 200 ms apart: a job that throws fails for good within a second.
    env: () => ({ WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '0,1,1', JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '200' }),
  });
  let receiver: WebhookReceiver;
  const db = () => ctx.hub.app.get(DataSource);
  const events = () => ctx.hub.app.get(AppEventsService);
  const messageOf = async (endpointId: string) =>
    (
      await query<{ id: string; status: string; attempts: number; last_error: string | null; next_attempt_at: Date | null }>(
        ctx.hub.app,
        `SELECT id, status, attempts, last_error, next_attempt_at FROM webhook_messages WHERE endpoint_id = $1`,
        [endpointId],
      )
    )[0];
  const attemptsOf = (messageId: string) =>
    query<{ attempt_no: number; status_code: number | null; error: string | null }>(ctx.hub.app, `SELECT attempt_no, status_code, error FROM webhook_attempts WHERE message_id = $1 ORDER BY attempt_no`, [messageId]);

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
  });

  afterEach(async () => {
    await db().query(`UPDATE webhook_endpoints SET enabled = false`);
    await receiver.close();
  });

  it('a message whose request cannot be signed (its secret does not open) follows the schedule to failed, with why and no request sent', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url('/unsignable'), ['zoom_room.joined']);
    // Sealed with a key the hub does not have (e.g. removed from TOKEN_ENCRYPTION_KEYS too early).
    await db().query(`UPDATE webhook_endpoints SET secret_enc = 'v1.retired-key.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA' WHERE id = $1`, [endpoint.id]);
    await events().record({ type: AppEventType.ZoomRoomJoined, data: { dispatch_id: 'unsignable' } });

    const m = await waitFor(async () => {
      const row = await messageOf(endpoint.id);
      return row?.status === 'failed' ? row : undefined;
    }, { timeoutMs: 20_000, what: 'the unsignable message to fail' });
    const error = `not sent: the endpoint's signing secret could not be used (Stored token could not be decrypted: key "retired-key" is not in TOKEN_ENCRYPTION_KEYS)`;
    expect(m).toMatchObject({ attempts: 3, last_error: error, next_attempt_at: null });
    expect(await attemptsOf(m.id)).toEqual([1, 2, 3].map((n) => ({ attempt_no: n, status_code: null, error })));
    expect(receiver.requests).toHaveLength(0);
    // Failing like any endpoint that gets nothing through (disabled after WEBHOOK_DISABLE_AFTER_HOURS).
    const [e] = await query<{ failing_since: Date | null; enabled: boolean }>(ctx.hub.app, `SELECT failing_since, enabled FROM webhook_endpoints WHERE id = $1`, [endpoint.id]);
    expect(e).toEqual({ failing_since: expect.any(Date), enabled: true });
  });

  it('a delivery job that fails for good records its attempt as failed and the message goes on to its next attempt', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url('/job-fails'), ['zoom_room.left']);
    const delivery = ctx.hub.app.get(WebhookDeliveryService);
    const real = delivery.deliver.bind(delivery);
    // The first attempt's job throws on every try (a bug, a store down longer than the tries); later ones work.
    const spy = jest.spyOn(delivery, 'deliver').mockImplementation(async (messageId, attemptNo, trigger) => {
      if (attemptNo === 1) throw new Error('planned job failure');
      return real(messageId, attemptNo, trigger);
    });
    try {
      const event = await events().record({ type: AppEventType.ZoomRoomLeft, data: { dispatch_id: 'job-fails' } });
      const m = await waitFor(async () => {
        const row = await messageOf(endpoint.id);
        return row?.status === 'succeeded' ? row : undefined;
      }, { timeoutMs: 20_000, what: 'the message to be delivered by its second attempt' });
      expect(m.attempts).toBe(2);
      expect(await attemptsOf(m.id)).toEqual([
        { attempt_no: 1, status_code: null, error: 'the delivery job failed: planned job failure' },
        { attempt_no: 2, status_code: 200, error: null },
      ]);
      expect(receiver.requests.map((r) => (r.json as { id: string }).id)).toEqual([event.id]);
    } finally {
      spy.mockRestore();
    }
  });

  it('the sweeper walks past overdue messages whose jobs wait (or keep failing) to find a lost one behind them', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url('/sweep'), ['ping']);
    await db().query(`UPDATE webhook_endpoints SET enabled = false WHERE id = $1`, [endpoint.id]);
    const worker = ctx.hub.app.get(AppWebhooksProcessor).worker;
    await worker.pause();
    try {
      // More overdue messages than one page (500), all older than the lost one; the first sweep queues them, and their jobs wait (worker paused).
      await db().query(
        `INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at)
         SELECT gen_random_uuid(), $1, gen_random_uuid(), 'ping', '{}', 'pending', 0, now() - interval '400 days' - make_interval(secs => g)
           FROM generate_series(1, 520) g`,
        [endpoint.id],
      );
      const sweeper = ctx.hub.app.get(WebhookDeliverySweeper);
      await sweeper.sweep({ overdueMs: 0, fanoutGraceMs: 3_600_000 });
      // A message whose job Redis lost, due after all of them.
      const lost = randomUUID();
      await db().query(
        `INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at)
         VALUES ($1, $2, gen_random_uuid(), 'ping', '{}', 'pending', 0, now() - interval '399 days')`,
        [lost, endpoint.id],
      );
      const queue = ctx.hub.producer.queueFor(JobName.WebhookDeliver);
      const lostJob = jobIdFor(JobName.WebhookDeliver, { messageId: lost, attempt: 1 }) as string;
      for (let i = 0; i < 2 && !(await queue.getJob(lostJob)); i++) await sweeper.sweep({ overdueMs: 0, fanoutGraceMs: 3_600_000 });
      expect(await queue.getJob(lostJob)).toBeDefined();
    } finally {
      worker.resume();
    }
    // Their jobs run: the endpoint is disabled, so each message is failed without a request.
    await waitFor(async () => (await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM webhook_messages WHERE endpoint_id = $1 AND status = 'pending'`, [endpoint.id]))[0].n === 0, {
      timeoutMs: 30_000,
      what: 'the swept messages to run',
    });
    expect(receiver.requests).toHaveLength(0);
  });

  it('an endpoint that last failed days ago starts a new failing run: one failure does not disable it, and the retry delivers', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url('/quiet'), ['recording.ready']);
    // Its last message failed 6 days ago (more than WEBHOOK_DISABLE_AFTER_HOURS, 120 h); nothing since.
    await db().query(`UPDATE webhook_endpoints SET failing_since = now() - interval '6 days 1 hour', last_failure_at = now() - interval '6 days' WHERE id = $1`, [endpoint.id]);
    receiver.failTimes(1, 502);
    await events().record({ type: AppEventType.RecordingReady, data: { complete: true } });

    const m = await waitFor(async () => {
      const row = await messageOf(endpoint.id);
      return row && row.status !== 'pending' ? row : undefined;
    }, { timeoutMs: 20_000, what: 'the message to be finished' });
    expect(m).toMatchObject({ status: 'succeeded', attempts: 2 });
    const [e] = await query<{ enabled: boolean; failing_since: Date | null; disabled_reason: string | null }>(
      ctx.hub.app,
      `SELECT enabled, failing_since, disabled_reason FROM webhook_endpoints WHERE id = $1`,
      [endpoint.id],
    );
    expect(e).toEqual({ enabled: true, failing_since: null, disabled_reason: null });
    expect(receiver.requests.map((r) => r.answeredWith)).toEqual([502, 200]);
  });
});
