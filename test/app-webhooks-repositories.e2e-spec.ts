import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { WebhookAttemptTrigger } from '../src/modules/app-webhooks/entities/webhook-attempt.entity';
import { WebhookMessageStatus } from '../src/modules/app-webhooks/entities/webhook-message.entity';
import { keysetCursor } from '../src/common/http/keyset-page';
import { WebhookEndpointsRepository } from '../src/modules/app-webhooks/repositories/webhook-endpoints.repository';
import { WebhookMessagesRepository } from '../src/modules/app-webhooks/repositories/webhook-messages.repository';
import { decodeCursor } from '../src/common/http/pagination';

/** The app-webhooks repositories against the real, migrated Postgres (rows made here, removed in afterAll). */
describe('app-webhooks repositories (real Postgres)', () => {
  let ds: DataSource;
  let endpoints: WebhookEndpointsRepository;
  let messages: WebhookMessagesRepository;
  const made: string[] = [];

  beforeAll(async () => {
    ds = await new DataSource(buildDataSourceOptions(process.env.DATABASE_URL as string, 4)).initialize();
    endpoints = new WebhookEndpointsRepository(ds);
    messages = new WebhookMessagesRepository(ds);
  });
  afterAll(async () => {
    if (made.length > 0) await ds.query(`DELETE FROM webhook_endpoints WHERE id = ANY($1::uuid[])`, [made]);
    await ds.destroy();
  });

  async function newEndpoint() {
    const id = randomUUID();
    made.push(id);
    return endpoints.insert({ id, url: 'https://example.test/hook', events: ['*'], secretEnc: 'sealed' });
  }

  async function newMessage(endpointId: string, eventType = 'ping') {
    const id = randomUUID();
    await messages.createOne({ id, endpointId, eventId: randomUUID(), eventType, body: '{}' });
    return id;
  }

  it('pages endpoints by (created_at, id) to the microsecond: rows within one millisecond are neither skipped nor repeated', async () => {
    const rows = [await newEndpoint(), await newEndpoint(), await newEndpoint(), await newEndpoint()];
    // Far in the future so they come first; three within one millisecond, two of them tied.
    const times = ['2999-01-01T00:00:00.123900Z', '2999-01-01T00:00:00.123400Z', '2999-01-01T00:00:00.123400Z', '2999-01-01T00:00:00.123100Z'];
    for (const [i, r] of rows.entries()) await ds.query(`UPDATE webhook_endpoints SET created_at = $2 WHERE id = $1`, [r.id, times[i]]);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 4; i++) {
      const page = await endpoints.findPage(1, decodeCursor(cursor));
      seen.push(page[0].id);
      cursor = keysetCursor(page[0]);
    }
    const tied = [rows[1].id, rows[2].id].sort().reverse();
    expect(seen).toEqual([rows[0].id, ...tied, rows[3].id]);
  });

  it('tracks failing, healthy and disabled, recording a disable once', async () => {
    const e = await newEndpoint();
    const first = await endpoints.markFailing(e.id, 60_000);
    expect(first).toBeInstanceOf(Date);
    expect((await endpoints.markFailing(e.id, 60_000))?.getTime()).toBe(first?.getTime());
    await endpoints.markHealthy(e.id);
    expect(await endpoints.findById(e.id)).toMatchObject({ failingSince: null, lastFailureAt: null });
    expect(await endpoints.markFailing(randomUUID(), 60_000)).toBeNull();

    expect(await endpoints.disable(e.id, 'the endpoint answered 410 Gone', { message_id: 'm' })).toBe(true);
    expect(await endpoints.disable(e.id, 'again', {})).toBe(false);
    await endpoints.recordEvent(e.id, 'endpoint.enabled', { by: 'api' });
    const events = await endpoints.findEventsPage(e.id, 10);
    expect(events.map((k) => [k.row.type, k.row.details])).toEqual([
      ['endpoint.enabled', { by: 'api' }],
      ['endpoint.disabled', { reason: 'the endpoint answered 410 Gone', message_id: 'm' }],
    ]);
    expect(await endpoints.findById(e.id)).toMatchObject({ enabled: false, disabledReason: 'the endpoint answered 410 Gone' });
  });

  it('continues a failing run only while failures come within the gap: a failure after a longer quiet starts a new run', async () => {
    const e = await newEndpoint();
    const first = (await endpoints.markFailing(e.id, 60_000)) as Date;
    // The previous failure 2 minutes ago, the run 3 days old: a gap of 60 s was exceeded.
    await ds.query(`UPDATE webhook_endpoints SET failing_since = now() - interval '3 days', last_failure_at = now() - interval '2 minutes' WHERE id = $1`, [e.id]);
    const restarted = (await endpoints.markFailing(e.id, 60_000)) as Date;
    expect(Date.now() - restarted.getTime()).toBeLessThan(60_000);
    expect(restarted.getTime()).toBeGreaterThanOrEqual(first.getTime());
    // Within a gap of 5 minutes, the same 3-day-old run goes on.
    await ds.query(`UPDATE webhook_endpoints SET failing_since = now() - interval '3 days', last_failure_at = now() - interval '2 minutes' WHERE id = $1`, [e.id]);
    const continued = (await endpoints.markFailing(e.id, 300_000)) as Date;
    expect(Date.now() - continued.getTime()).toBeGreaterThan(3 * 86_400_000 - 60_000);
    const row = await endpoints.findById(e.id);
    expect(Date.now() - (row?.lastFailureAt as Date).getTime()).toBeLessThan(60_000);
  });

  it('says whether the endpoint was failing when an attempt was written', async () => {
    const e = await newEndpoint();
    const [a, b] = [await newMessage(e.id), await newMessage(e.id)];
    const write = (messageId: string) =>
      messages.recordAttempt({
        attemptId: randomUUID(),
        messageId,
        attemptNo: 1,
        trigger: WebhookAttemptTrigger.Scheduled,
        startedAt: new Date(),
        statusCode: 200,
        latencyMs: 3,
        responseBody: 'ok',
        error: null,
        status: WebhookMessageStatus.Succeeded,
        nextAttemptAt: null,
      });
    expect(await write(a)).toEqual({ endpointFailing: false });
    await endpoints.markFailing(e.id, 60_000);
    expect(await write(b)).toEqual({ endpointFailing: true });
  });

  it('walks through overdue messages in due order, page after page, to the microsecond', async () => {
    const e = await newEndpoint();
    const ids = [await newMessage(e.id), await newMessage(e.id), await newMessage(e.id)];
    // Older than anything else in the shared database, two of them due at the same microsecond.
    const due = ['1990-01-01T00:00:00.000300Z', '1990-01-01T00:00:00.000100Z', '1990-01-01T00:00:00.000100Z'];
    for (const [i, id] of ids.entries()) await ds.query(`UPDATE webhook_messages SET next_attempt_at = $2 WHERE id = $1`, [id, due[i]]);
    const seen: string[] = [];
    let after = null;
    for (let i = 0; i < 3; i++) {
      const [m] = await messages.findOverdue(0, 1, after);
      seen.push(m.id);
      after = { dueAt: m.dueAt, id: m.id };
    }
    expect(seen).toEqual([...[ids[1], ids[2]].sort(), ids[0]]);
    await ds.query(`DELETE FROM webhook_messages WHERE id = ANY($1::uuid[])`, [ids]);
  });

  it('disables an endpoint and fails its pending messages in the caller’s transaction: all or nothing', async () => {
    const e = await newEndpoint();
    const m = await newMessage(e.id);
    const disableAndFail = (then: 'commit' | 'roll back') =>
      ds
        .transaction(async (em) => {
          expect(await endpoints.disable(e.id, 'every delivery failed', {}, em)).toBe(true);
          expect(await messages.failPendingOfEndpoint(e.id, 'endpoint disabled', em)).toBe(1);
          if (then === 'roll back') throw new Error('roll back');
        })
        .catch((err: Error) => expect(err.message).toBe('roll back'));
    await disableAndFail('roll back');
    expect(await endpoints.findById(e.id)).toMatchObject({ enabled: true, disabledReason: null });
    expect(await messages.findById(m)).toMatchObject({ status: WebhookMessageStatus.Pending });
    expect(await endpoints.findEventsPage(e.id, 10)).toEqual([]);
    await disableAndFail('commit');
    expect(await endpoints.findById(e.id)).toMatchObject({ enabled: false, disabledReason: 'every delivery failed' });
    expect(await messages.findById(m)).toMatchObject({ status: WebhookMessageStatus.Failed, lastError: 'endpoint disabled' });
  });

  it('locks, saves and deletes an endpoint (its messages cascade)', async () => {
    const e = await newEndpoint();
    const m = await newMessage(e.id);
    await ds.transaction(async (em) => {
      const locked = await endpoints.findByIdForUpdate(e.id, em);
      expect(locked?.id).toBe(e.id);
      if (locked) await endpoints.save(Object.assign(locked, { description: 'saved' }), em);
    });
    expect((await endpoints.findById(e.id))?.description).toBe('saved');
    expect(await endpoints.deleteById(e.id)).toBe(true);
    expect(await endpoints.deleteById(e.id)).toBe(false);
    expect(await messages.findById(m)).toBeNull();
  });

  it('makes messages due again, fails an endpoint’s pending ones, finds failed ones and lists attempts', async () => {
    const e = await newEndpoint();
    const [a, b, c] = [await newMessage(e.id), await newMessage(e.id, 'session.created'), await newMessage(e.id)];
    const attempt = (messageId: string, attemptNo: number, status: WebhookMessageStatus) =>
      messages.recordAttempt({
        attemptId: randomUUID(),
        messageId,
        attemptNo,
        trigger: WebhookAttemptTrigger.Scheduled,
        startedAt: new Date(),
        statusCode: status === WebhookMessageStatus.Succeeded ? 200 : 500,
        latencyMs: 3,
        responseBody: 'r',
        error: null,
        status,
        nextAttemptAt: null,
      });
    expect(await attempt(a, 1, WebhookMessageStatus.Succeeded)).toEqual({ endpointFailing: false });
    expect(await attempt(a, 1, WebhookMessageStatus.Succeeded)).toBeNull();
    expect(await messages.findById(a)).toMatchObject({ status: 'succeeded', attempts: 1, lastStatusCode: 200 });
    expect(await messages.makeDueNow(a)).toBe(2);
    expect(await messages.findById(a)).toMatchObject({ status: 'pending', attempts: 1 });
    expect(await messages.makeDueNow(randomUUID())).toBeNull();
    expect(await attempt(a, 2, WebhookMessageStatus.Failed)).toEqual({ endpointFailing: false });
    expect((await messages.findAttempts(a)).map((x) => [x.attemptNo, x.statusCode])).toEqual([
      [1, 200],
      [2, 500],
    ]);

    expect(await messages.failPendingOfEndpoint(e.id, 'endpoint disabled')).toBe(2);
    expect(await messages.findById(b)).toMatchObject({ status: 'failed', lastError: 'endpoint disabled' });
    expect(await messages.findFailedSince(e.id, new Date(Date.now() - 60_000), 10)).toEqual([a, b, c]);
    expect(await messages.findFailedSince(e.id, new Date(Date.now() + 60_000), 10)).toEqual([]);

    const page = await messages.findPage(e.id, { status: WebhookMessageStatus.Failed, eventType: 'ping' }, 10);
    expect(page.map((k) => k.id).sort()).toEqual([a, c].sort());
    expect(await messages.findPage(e.id, { eventType: 'session.created' }, 10)).toHaveLength(1);
  });

  it('logs an attempt that was in flight when the endpoint was disabled without making its failed message pending again', async () => {
    const e = await newEndpoint();
    const [failing, delivered] = [await newMessage(e.id), await newMessage(e.id)];
    // Both attempts started; then the endpoint is disabled and its pending messages failed.
    expect(await messages.failPendingOfEndpoint(e.id, 'endpoint disabled')).toBe(2);
    const attempt = (messageId: string, ok: boolean) =>
      messages.recordAttempt({
        attemptId: randomUUID(),
        messageId,
        attemptNo: 1,
        trigger: WebhookAttemptTrigger.Scheduled,
        startedAt: new Date(),
        statusCode: ok ? 200 : 500,
        latencyMs: 3,
        responseBody: 'r',
        error: ok ? null : 'HTTP 500',
        status: ok ? WebhookMessageStatus.Succeeded : WebhookMessageStatus.Pending,
        nextAttemptAt: ok ? null : new Date(Date.now() + 5000),
      });
    expect(await Promise.all([attempt(failing, false), attempt(delivered, true)])).toEqual([{ endpointFailing: false }, { endpointFailing: false }]);
    // The failed attempt is logged and counted, but the message stays failed, due never.
    expect(await messages.findById(failing)).toMatchObject({ status: 'failed', attempts: 1, nextAttemptAt: null, lastStatusCode: 500, lastError: 'endpoint disabled' });
    expect((await messages.findAttempts(failing)).map((x) => [x.attemptNo, x.statusCode])).toEqual([[1, 500]]);
    // The one the receiver took is delivered, as it was.
    expect(await messages.findById(delivered)).toMatchObject({ status: 'succeeded', attempts: 1, deliveredAt: expect.any(Date) });
  });
});
