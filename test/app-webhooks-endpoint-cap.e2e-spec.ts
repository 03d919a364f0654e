import { DataSource } from 'typeorm';
import { QueueName } from '../src/jobs/queue-names';
import { AppEventsService, AppEventType } from '../src/modules/app-events';
import { insertWebhookEndpoint } from './factories/webhook-endpoint.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { waitFor } from './utils/wait-for';
import { WebhookReceiver } from './utils/webhook-receiver';

jest.setTimeout(60_000);

/**
 * WEBHOOK_ENDPOINT_MAX_IN_FLIGHT: an endpoint that hangs holds at most its cap of the
 * worker's slots (the rest of its jobs go back to wait, their attempts unused), so other
 * apps' deliveries go on; and a 429's Retry-After holds back every message to that endpoint.
 */
describe('App webhooks: per-endpoint in-flight cap and Retry-After', () => {
  const ctx = useE2eContext({
    hub: { api: false, worker: { queues: [QueueName.AppWebhooks], explicit: true } },
    env: () => ({
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
      WEBHOOK_RETRY_SCHEDULE: '0,1,1',
      WEBHOOK_TIMEOUT_MS: '3000',
      WEBHOOK_ENDPOINT_MAX_IN_FLIGHT: '2',
      CONCURRENCY_APP_WEBHOOKS: '4',
    }),
  });
  let hanging: WebhookReceiver;
  let healthy: WebhookReceiver;
  const events = () => ctx.hub.app.get(AppEventsService);

  beforeEach(async () => {
    hanging = await WebhookReceiver.start();
    healthy = await WebhookReceiver.start();
  });

  afterEach(async () => {
    await ctx.hub.app.get(DataSource).query(`UPDATE webhook_endpoints SET enabled = false`);
    await hanging.close();
    await healthy.close();
  });

  it('a hanging endpoint holds at most its cap of the worker slots: another endpoint is delivered at once, and no attempt is used by waiting', async () => {
    const stuck = await insertWebhookEndpoint(ctx.hub.app, hanging.url('/stuck'), ['participant.joined']);
    const ok = await insertWebhookEndpoint(ctx.hub.app, healthy.url('/ok'), ['participant.left']);
    hanging.always({ hang: true });
    for (let i = 0; i < 6; i++) await events().record({ type: AppEventType.ParticipantJoined, data: { participant: { user_id: `h${i}` } } });
    await hanging.waitFor(2, { what: 'the hanging endpoint to hold its 2 slots' });

    const recordedAt = Date.now();
    await events().record({ type: AppEventType.ParticipantLeft, data: { participant: { user_id: 'fast' } } });
    const [r] = await healthy.waitFor(1, { timeoutMs: 10_000, what: 'the healthy endpoint’s delivery' });
    // Not behind the hanging attempts (cut at 3 s): the worker's other 2 slots were free.
    expect(r.receivedAt - recordedAt).toBeLessThan(1500);
    // Never more than 2 at once at the hanging endpoint: 2 arrived, the others wait for a slot.
    expect(hanging.requests).toHaveLength(2);

    // The waiting messages were not charged an attempt: each gets its own 3 attempts, 2 at a time.
    await waitFor(
      async () =>
        (await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM webhook_messages WHERE endpoint_id = $1 AND status = 'failed' AND attempts = 3`, [stuck.id]))[0].n === 6,
      { timeoutMs: 40_000, intervalMs: 200, what: 'the 6 messages to use their 3 attempts each' },
    );
    expect(ok.id).toBeDefined();
  });

  it("honours a 429's Retry-After: the retry waits for it, and another message to the endpoint is held back until then without using an attempt", async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, healthy.url('/busy'), ['recording.ready']);
    healthy.plan({ status: 429, body: 'slow down', headers: { 'retry-after': '3' } });
    const first = await events().record({ type: AppEventType.RecordingReady, data: { n: 1 } });
    const [limited] = await healthy.waitFor(1, { what: 'the first attempt' });
    // Recorded while the endpoint is paused: held back until the pause ends.
    const second = await events().record({ type: AppEventType.RecordingReady, data: { n: 2 } });
    await healthy.waitFor(3, { timeoutMs: 20_000, what: 'the retry and the second message' });
    const byEvent = (id: string) => healthy.requests.filter((r) => (r.json as { id: string }).id === id);
    // Without Retry-After the retry came after the schedule's 1 s.
    expect(byEvent(first.id)[1].receivedAt - limited.receivedAt).toBeGreaterThanOrEqual(2900);
    expect(byEvent(second.id)[0].receivedAt - limited.receivedAt).toBeGreaterThanOrEqual(2900);
    const rows = await waitFor(async () => {
      const r = await query<{ status: string; attempts: number }>(ctx.hub.app, `SELECT status, attempts FROM webhook_messages WHERE endpoint_id = $1 ORDER BY created_at`, [endpoint.id]);
      return r.length === 2 && r.every((m) => m.status === 'succeeded') ? r : undefined;
    }, { what: 'both messages delivered' });
    expect(rows).toEqual([
      { status: 'succeeded', attempts: 2 },
      { status: 'succeeded', attempts: 1 },
    ]);
  });
});
