import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { jobIdFor } from '../src/jobs/job-ids';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { AppEventsService, AppEventType } from '../src/modules/app-events';
import { AppWebhooksProcessor } from '../src/modules/app-webhooks';
import { WebhookDeliverySweeper } from '../src/modules/app-webhooks/fanout/webhook-delivery.sweeper';
import { insertWebhookEndpoint } from './factories/webhook-endpoint.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import type { EntrypointProcess } from './utils/processes';
import { waitFor } from './utils/wait-for';
import { WebhookReceiver } from './utils/webhook-receiver';

jest.setTimeout(120_000);

// The retry waits 8 s, so the worker is killed while it waits even on a loaded machine.
const WORKER_ENV = { WORKER_QUEUES: QueueName.AppWebhooks, WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '0,8' };

/**
 * At-least-once across crashes: real worker processes deliver; the in-process hub only
 * records events and runs the sweeper (its own app-webhooks worker is paused). Postgres
 * holds every message, so neither a SIGKILLed worker nor Redis losing the queue's keys
 * loses one.
 */
describe('App webhooks: a worker killed mid-retry, and Redis losing the queue', () => {
  const ctx = useE2eContext({
    hub: { api: false, worker: { queues: [QueueName.AppWebhooks], explicit: true } },
    env: () => ({ WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '0,3' }),
  });
  let receiver: WebhookReceiver;

  const startWorker = async (): Promise<EntrypointProcess> => {
    const w = ctx.spawnWorker(WORKER_ENV);
    await waitFor(() => w.output().includes(`Consuming ${QueueName.AppWebhooks}`), { timeoutMs: 60_000, intervalMs: 100, what: 'the worker process to consume app-webhooks' });
    return w;
  };
  const message = async (endpointId: string) =>
    (await query<{ id: string; status: string; attempts: number; next_attempt_at: Date | null }>(ctx.hub.app, `SELECT id, status, attempts, next_attempt_at FROM webhook_messages WHERE endpoint_id = $1`, [endpointId]))[0];

  beforeAll(async () => {
    await ctx.hub.app.get(AppWebhooksProcessor).worker.pause();
    receiver = await WebhookReceiver.start();
  });

  afterAll(async () => {
    await receiver.close();
  });

  afterEach(async () => {
    await ctx.hub.app.get(DataSource).query(`UPDATE webhook_endpoints SET enabled = false`);
  });

  it('delivers a message whose worker was SIGKILLed while its retry waited', async () => {
    const first = await startWorker();
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url('/kill'), ['session.created']);
    receiver.reset().failTimes(1, 500);
    const event = await ctx.hub.app.get(AppEventsService).record({ type: AppEventType.SessionCreated, data: { session: { id: 'x' } } });
    const failed = await waitFor(async () => {
      const m = await message(endpoint.id);
      return m?.attempts === 1 ? m : undefined;
    }, { timeoutMs: 20_000, what: 'the first attempt to fail' });
    // Killed while the retry waits in Redis (delayed), not between the attempt's record and its retry's enqueue.
    const retry = jobIdFor(JobName.WebhookDeliver, { messageId: failed.id, attempt: 2 }) as string;
    await waitFor(async () => (await (await ctx.hub.producer.queueFor(JobName.WebhookDeliver).getJob(retry))?.getState()) === 'delayed', { what: 'the retry to wait in Redis' });

    await first.stop('SIGKILL');
    await startWorker();
    const delivered = await waitFor(async () => {
      const m = await message(endpoint.id);
      return m?.status === 'succeeded' ? m : undefined;
    }, { timeoutMs: 30_000, what: 'the retry to be delivered by the new worker' });
    expect(delivered.attempts).toBe(2);
    // This event's deliveries only: other files' stray events in the shared test database may be swept to this endpoint too.
    const hits = receiver.requests.filter((r) => r.path === '/kill' && (r.json as { id: string }).id === event.id);
    expect(hits).toHaveLength(2);
    expect(hits[0].webhookId).toBe(hits[1].webhookId);
  });

  it('re-queues from Postgres when the queue keys are flushed: a lost retry and a lost fan-out are both delivered', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url('/flush'), ['session.status_changed']);
    receiver.reset().failTimes(1, 503);
    const retried = await ctx.hub.app.get(AppEventsService).record({ type: AppEventType.SessionStatusChanged, data: { status: 'streaming' } });
    const failed = await waitFor(async () => {
      const m = await message(endpoint.id);
      return m?.attempts === 1 ? m : undefined;
    }, { timeoutMs: 20_000, what: 'the first attempt to fail' });
    const retry = jobIdFor(JobName.WebhookDeliver, { messageId: failed.id, attempt: 2 }) as string;
    await waitFor(async () => (await (await ctx.hub.producer.queueFor(JobName.WebhookDeliver).getJob(retry))?.getState()) === 'delayed', { what: 'the retry to wait in Redis' });

    // Redis loses every key of the app-webhooks queue (the delayed retry with them).
    const prefix = process.env.QUEUE_PREFIX as string;
    const redis = new Redis(process.env.REDIS_URL as string);
    try {
      const keys = await redis.keys(`${prefix}:${QueueName.AppWebhooks}:*`);
      expect(keys.length).toBeGreaterThan(0);
      await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
    // And an event whose fan-out job never made it to Redis.
    const lostId = '7d0b5e2a-3c1f-4e8b-9a6d-2f4c8e1b0a99';
    await ctx.hub.app.get(DataSource).query(`INSERT INTO app_events (id, type, data) VALUES ($1, 'session.status_changed', '{"status":"stopped","session_id":null,"sequence":null}')`, [lostId]);

    const due = (await message(endpoint.id)).next_attempt_at as Date;
    await waitFor(() => Date.now() > due.getTime(), { timeoutMs: 20_000, intervalMs: 100, what: 'the lost retry to be due' });
    const swept = await ctx.hub.app.get(WebhookDeliverySweeper).sweep({ overdueMs: 0, fanoutGraceMs: 0 });
    // At least these two (other files' events in the shared test database may be swept too).
    expect(swept.events).toBeGreaterThanOrEqual(1);
    expect(swept.messages).toBeGreaterThanOrEqual(1);

    // Only these two events' deliveries (other files' stray events may be swept to this endpoint too).
    const flushed = () =>
      receiver.requests
        .filter((x) => x.path === '/flush')
        .map((x) => (x.json as { id: string }).id)
        .filter((id) => id === retried.id || id === lostId);
    await receiver.waitFor(() => flushed().length >= 3, { timeoutMs: 30_000, what: 'the retry and the lost event' });
    expect(flushed().sort()).toEqual([retried.id, retried.id, lostId].sort());
    await waitFor(async () => (await message(endpoint.id))?.status === 'succeeded', { what: 'the retried message to be succeeded' });
  });
});
