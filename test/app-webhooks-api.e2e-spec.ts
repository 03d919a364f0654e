import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { QueueName } from '../src/jobs/queue-names';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY, TestApp } from './utils/test-app';
import { waitFor } from './utils/wait-for';
import { ReceivedWebhook, WebhookReceiver } from './utils/webhook-receiver';

interface EndpointBody {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  secret?: string;
  [k: string]: unknown;
}

/** The hub's signature headers of a request, as standardwebhooks wants them. */
const headersOf = (r: ReceivedWebhook, signature = r.webhookSignature) => ({
  'webhook-id': r.webhookId,
  'webhook-timestamp': r.webhookTimestamp,
  'webhook-signature': signature,
});

/**
 * The webhook-endpoints API and delivery log, against real Postgres and Redis, with the
 * app-webhooks worker in the same process and a local receiver. Signatures are checked
 * with the `standardwebhooks` package (not the hub's own code). The retry schedule
 * `0,60` leaves a failed first attempt waiting a minute: resend/recover must bring it
 * forward.
 */
describe('app webhooks API (e2e)', () => {
  const ctx = useE2eContext({
    hub: { api: true, worker: { queues: [QueueName.AppWebhooks], explicit: true } },
    env: () => ({ WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '0,60' }),
  });
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
  });
  afterAll(async () => {
    await receiver.close();
  });
  beforeEach(() => receiver.reset());

  const call = (app?: TestApp) => ({
    get: (path: string) => ctx.http(app).get(`/api/v1${path}`).set('x-api-key', API_KEY),
    post: (path: string, body?: object) => ctx.http(app).post(`/api/v1${path}`).set('x-api-key', API_KEY).send(body),
    patch: (path: string, body: object) => ctx.http(app).patch(`/api/v1${path}`).set('x-api-key', API_KEY).send(body),
    delete: (path: string) => ctx.http(app).delete(`/api/v1${path}`).set('x-api-key', API_KEY),
  });
  const api = call();

  async function createEndpoint(body: Partial<EndpointBody> = {}): Promise<EndpointBody & { secret: string }> {
    const res = await api.post('/webhook-endpoints', { url: receiver.url(), events: ['*'], ...body }).expect(201);
    return res.body as EndpointBody & { secret: string };
  }

  /** Sends a ping and returns the message view and the request the receiver got. */
  async function ping(endpointId: string): Promise<{ message: { id: string; payload: unknown }; request: ReceivedWebhook }> {
    const res = await api.post(`/webhook-endpoints/${endpointId}/test`).expect(202);
    const message = res.body as { id: string; payload: unknown };
    await receiver.waitFor((rs) => rs.some((r) => r.webhookId === message.id));
    return { message, request: receiver.forMessage(message.id)[0] };
  }

  const messageStatus = async (id: string, status: string) =>
    waitFor(async () => ((await api.get(`/webhook-messages/${id}`)).body as { status: string }).status === status, { what: `message ${id} ${status}` });

  describe('endpoints', () => {
    it('creates, reads, lists, updates and deletes; the secret is shown only at creation', async () => {
      const created = await createEndpoint({ url: receiver.url('/crud'), events: ['session.created', 'recording.ready'], description: 'crud', metadata: { team: 'a' } });
      expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      expect(Buffer.from(created.secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);
      expect(created).toMatchObject({
        url: receiver.url('/crud'),
        events: ['session.created', 'recording.ready'],
        description: 'crud',
        enabled: true,
        metadata: { team: 'a' },
        disabled_at: null,
        disabled_reason: null,
        failing_since: null,
      });
      expect(created).not.toHaveProperty('secret_enc');

      const got = (await api.get(`/webhook-endpoints/${created.id}`).expect(200)).body as EndpointBody;
      expect(got).toEqual({ ...created, secret: undefined, created_at: created.created_at, updated_at: got.updated_at });
      expect(JSON.stringify(got)).not.toContain('whsec_');
      expect(got).not.toHaveProperty('secret');
      const listed = (await api.get('/webhook-endpoints?limit=100').expect(200)).body as { data: EndpointBody[] };
      expect(listed.data.find((e) => e.id === created.id)).toBeDefined();
      expect(JSON.stringify(listed)).not.toContain('whsec_');

      const updated = (await api.patch(`/webhook-endpoints/${created.id}`, { description: 'changed', events: ['*', 'transcript.segment'], metadata: { team: 'b' } }).expect(200)).body;
      expect(updated).toMatchObject({ description: 'changed', events: ['*', 'transcript.segment'], metadata: { team: 'b' }, url: receiver.url('/crud') });
      expect(updated).not.toHaveProperty('secret');
      expect((await api.patch(`/webhook-endpoints/${created.id}`, { description: null }).expect(200)).body.description).toBeNull();
      // A field given is applied or refused, never skipped: an empty url is refused as on create; null clears only the description.
      expect((await api.patch(`/webhook-endpoints/${created.id}`, { url: '' }).expect(400)).body.error).toBe('invalid_webhook_url');
      for (const field of ['url', 'events', 'enabled', 'metadata']) {
        expect((await api.patch(`/webhook-endpoints/${created.id}`, { [field]: null }).expect(400)).body.error).toBe('validation_failed');
      }
      expect((await api.get(`/webhook-endpoints/${created.id}`).expect(200)).body).toMatchObject({ url: receiver.url('/crud'), events: ['*', 'transcript.segment'], metadata: { team: 'b' }, enabled: true });

      const disabled = (await api.patch(`/webhook-endpoints/${created.id}`, { enabled: false }).expect(200)).body;
      expect(disabled).toMatchObject({ enabled: false, disabled_reason: null });
      expect(disabled.disabled_at).not.toBeNull();
      const enabled = (await api.patch(`/webhook-endpoints/${created.id}`, { enabled: true }).expect(200)).body;
      expect(enabled).toMatchObject({ enabled: true, disabled_at: null, disabled_reason: null, failing_since: null });
      const events = (await api.get(`/webhook-endpoints/${created.id}/events`).expect(200)).body as { data: Array<{ type: string; details: unknown }> };
      expect(events.data.map((e) => e.type)).toEqual(['endpoint.enabled', 'endpoint.disabled']);
      expect(events.data[1].details).toEqual({ by: 'api' });

      await api.delete(`/webhook-endpoints/${created.id}`).expect(204);
      expect((await api.get(`/webhook-endpoints/${created.id}`).expect(404)).body.error).toBe('webhook_endpoint_not_found');
      await api.delete(`/webhook-endpoints/${created.id}`).expect(404);
    });

    it('can be created disabled', async () => {
      const e = await createEndpoint({ enabled: false });
      expect(e.enabled).toBe(false);
      expect(e.disabled_at).not.toBeNull();
      await api.delete(`/webhook-endpoints/${e.id}`).expect(204);
    });

    it('pages through endpoints newest first without repeats', async () => {
      const mine = [await createEndpoint(), await createEndpoint(), await createEndpoint()].map((e) => e.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = (await api.get(`/webhook-endpoints?limit=2${cursor ? `&cursor=${cursor}` : ''}`).expect(200)).body as { data: EndpointBody[]; next_cursor: string | null };
        expect(page.data.length).toBeLessThanOrEqual(2);
        seen.push(...page.data.map((e) => e.id));
        cursor = page.next_cursor;
      } while (cursor);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((id) => mine.includes(id))).toEqual([...mine].reverse());
      for (const id of mine) await api.delete(`/webhook-endpoints/${id}`).expect(204);
      expect((await api.get('/webhook-endpoints?cursor=garbage').expect(400)).body.error).toBe('invalid_cursor');
    });

    it('refuses unknown event types, ping, empty events, big metadata and bad ids', async () => {
      const unknown = await api.post('/webhook-endpoints', { url: receiver.url(), events: ['session.created', 'session.exploded'] }).expect(400);
      expect(unknown.body).toMatchObject({ error: 'unknown_event_type', details: { unknown: ['session.exploded'] } });
      expect(unknown.body.message).toContain('session.exploded');
      expect((await api.post('/webhook-endpoints', { url: receiver.url(), events: ['ping'] }).expect(400)).body.error).toBe('unknown_event_type');
      expect((await api.post('/webhook-endpoints', { url: receiver.url(), events: [] }).expect(400)).body.error).toBe('validation_failed');
      expect((await api.post('/webhook-endpoints', { url: receiver.url() }).expect(400)).body.error).toBe('validation_failed');
      expect((await api.post('/webhook-endpoints', { url: receiver.url(), events: ['*'], secret: 'mine' }).expect(400)).body.error).toBe('validation_failed');
      const big = await api.post('/webhook-endpoints', { url: receiver.url(), events: ['*'], metadata: { x: 'y'.repeat(17 * 1024) } }).expect(400);
      expect(big.body.error).toBe('webhook_metadata_too_large');
      const e = await createEndpoint();
      expect((await api.patch(`/webhook-endpoints/${e.id}`, { events: ['nope'] }).expect(400)).body.error).toBe('unknown_event_type');
      expect((await api.get('/webhook-endpoints/not-a-uuid').expect(400)).body.error).toBe('invalid_id');
      expect((await api.get(`/webhook-endpoints/${randomUUID()}/messages`).expect(404)).body.error).toBe('webhook_endpoint_not_found');
      expect((await api.get(`/webhook-messages/${randomUUID()}`).expect(404)).body.error).toBe('webhook_message_not_found');
      await api.delete(`/webhook-endpoints/${e.id}`).expect(204);
    });

    it('refuses http:// and private or loopback hosts unless WEBHOOK_ALLOW_PRIVATE_URLS is on', async () => {
      const strict = await ctx.startApp({ api: true }, { WEBHOOK_ALLOW_PRIVATE_URLS: 'false' });
      const strictApi = call(strict);
      const refused = async (url: string) => (await strictApi.post('/webhook-endpoints', { url, events: ['*'] }).expect(400)).body as { error: string; message: string };
      expect(await refused(receiver.url())).toMatchObject({ error: 'invalid_webhook_url', message: 'url must be https://' });
      expect((await refused('https://user:pw@93.184.216.34/hook')).error).toBe('invalid_webhook_url');
      for (const url of ['https://127.0.0.1/hook', 'https://localhost/hook', 'https://10.0.0.8/hook', 'https://192.168.1.1/hook', 'https://169.254.169.254/latest', 'https://[::1]/hook']) {
        const body = await refused(url);
        expect(body.error).toBe('webhook_url_not_allowed');
        expect(body.message).toMatch(/non-public address|does not resolve/);
      }
      // The flag is per process: the hub (flag on) took the same URL.
      const e = await createEndpoint();
      expect((await strictApi.patch(`/webhook-endpoints/${e.id}`, { url: 'https://127.0.0.1/other' }).expect(400)).body.error).toBe('webhook_url_not_allowed');
      // A public address literal needs no DNS and is accepted.
      const pub = (await strictApi.post('/webhook-endpoints', { url: 'https://93.184.216.34/hook', events: ['recording.ready'] }).expect(201)).body as EndpointBody;
      await strictApi.delete(`/webhook-endpoints/${pub.id}`).expect(204);
      await api.delete(`/webhook-endpoints/${e.id}`).expect(204);
      await ctx.stopApp(strict);
    });
  });

  describe('sending', () => {
    it('test sends a ping signed by the Standard Webhooks spec, and logs the attempt', async () => {
      const e = await createEndpoint({ url: receiver.url('/ping') });
      const { message, request } = await ping(e.id);
      expect(message).toMatchObject({ endpoint_id: e.id, event_type: 'ping', status: 'pending', attempts: 0 });
      expect(message.payload).toMatchObject({ type: 'ping', data: { endpoint_id: e.id, message: 'This is a test event from RTMS Hub', session_id: null, sequence: null } });
      expect(request).toMatchObject({ method: 'POST', path: '/ping', webhookId: message.id });
      expect(request.headers['content-type']).toBe('application/json');
      expect(new Webhook(e.secret).verify(request.body, headersOf(request))).toEqual(message.payload);
      const stranger = new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`);
      expect(() => stranger.verify(request.body, headersOf(request))).toThrow();
      expect(() => new Webhook(e.secret).verify(request.body.replace('RTMS Hub', 'RTMS Hug'), headersOf(request))).toThrow();

      await messageStatus(message.id, 'succeeded');
      const got = (await api.get(`/webhook-messages/${message.id}`).expect(200)).body;
      expect(got).toMatchObject({ id: message.id, status: 'succeeded', attempts: 1, last_status_code: 200, last_error: null, payload: message.payload });
      expect(got.delivered_at).not.toBeNull();
      const attempts = (await api.get(`/webhook-messages/${message.id}/attempts`).expect(200)).body.data;
      expect(attempts).toEqual([
        {
          id: expect.any(String),
          message_id: message.id,
          attempt_no: 1,
          trigger: 'scheduled',
          started_at: expect.any(String),
          status_code: 200,
          latency_ms: expect.any(Number),
          response_body: 'ok',
          error: null,
        },
      ]);
      await api.delete(`/webhook-endpoints/${e.id}`).expect(204);
      expect((await api.get(`/webhook-messages/${message.id}`).expect(404)).body.error).toBe('webhook_message_not_found');
    });

    it('after a rotation the next delivery carries two signatures, one per secret', async () => {
      const e = await createEndpoint();
      const oldSecret = e.secret;
      const rotated = (await api.post(`/webhook-endpoints/${e.id}/rotate-secret`).expect(200)).body as EndpointBody & { secret: string; previous_secret_expires_at: string };
      expect(rotated.secret).toMatch(/^whsec_/);
      expect(rotated.secret).not.toBe(oldSecret);
      const overlapEnds = Date.parse(rotated.previous_secret_expires_at) - Date.now();
      expect(overlapEnds).toBeGreaterThan(86_300_000);
      expect(overlapEnds).toBeLessThanOrEqual(86_400_000);
      expect(JSON.stringify((await api.get(`/webhook-endpoints/${e.id}`).expect(200)).body)).not.toContain('whsec_');

      const { request } = await ping(e.id);
      const signatures = request.webhookSignature.split(' ');
      expect(signatures).toHaveLength(2);
      for (const secret of [oldSecret, rotated.secret]) {
        expect(new Webhook(secret).verify(request.body, headersOf(request))).toBeTruthy();
        // Exactly one of the two signatures is this secret's.
        const own = signatures.filter((sig) => {
          try {
            new Webhook(secret).verify(request.body, headersOf(request, sig));
            return true;
          } catch {
            return false;
          }
        });
        expect(own).toHaveLength(1);
      }
      const events = (await api.get(`/webhook-endpoints/${e.id}/events`).expect(200)).body.data as Array<{ type: string; details: Record<string, unknown> }>;
      expect(events).toMatchObject([{ type: 'endpoint.secret_rotated', details: { previous_secret_expires_at: rotated.previous_secret_expires_at } }]);
      await api.delete(`/webhook-endpoints/${e.id}`).expect(204);
    });

    it('lists messages newest first, filtered and paginated', async () => {
      const e = await createEndpoint();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await ping(e.id)).message.id);
      for (const id of ids) await messageStatus(id, 'succeeded');
      const first = (await api.get(`/webhook-endpoints/${e.id}/messages?limit=2`).expect(200)).body as { data: Array<{ id: string }>; next_cursor: string };
      expect(first.data.map((m) => m.id)).toEqual([ids[2], ids[1]]);
      expect(first.data[0]).not.toHaveProperty('payload');
      const second = (await api.get(`/webhook-endpoints/${e.id}/messages?limit=2&cursor=${first.next_cursor}`).expect(200)).body;
      expect(second).toEqual({ data: [expect.objectContaining({ id: ids[0], status: 'succeeded', event_type: 'ping' })], next_cursor: null });
      expect((await api.get(`/webhook-endpoints/${e.id}/messages?status=succeeded&event_type=ping`).expect(200)).body.data).toHaveLength(3);
      expect((await api.get(`/webhook-endpoints/${e.id}/messages?status=failed`).expect(200)).body.data).toEqual([]);
      expect((await api.get(`/webhook-endpoints/${e.id}/messages?event_type=session.created`).expect(200)).body.data).toEqual([]);
      expect((await api.get(`/webhook-endpoints/${e.id}/messages?status=bogus`).expect(400)).body.error).toBe('validation_failed');
      // A type the hub never sends is a mistake, not an empty log.
      const unknown = (await api.get(`/webhook-endpoints/${e.id}/messages?event_type=session.exploded`).expect(400)).body;
      expect(unknown).toMatchObject({ error: 'unknown_event_type', details: { unknown: ['session.exploded'], valid: expect.arrayContaining(['session.created', 'ping']) } });
      expect(unknown.message).toContain('session.exploded');
      await api.delete(`/webhook-endpoints/${e.id}`).expect(204);
    });

    it('resend makes a new attempt of the same message: same webhook-id, same body', async () => {
      const e = await createEndpoint();
      const { message, request } = await ping(e.id);
      await messageStatus(message.id, 'succeeded');
      const resent = (await api.post(`/webhook-messages/${message.id}/resend`).expect(202)).body;
      expect(resent).toMatchObject({ id: message.id, status: 'pending' });
      await receiver.waitFor(() => receiver.forMessage(message.id).length === 2);
      const [, again] = receiver.forMessage(message.id);
      expect(again.body).toBe(request.body);
      expect(new Webhook(e.secret).verify(again.body, headersOf(again))).toEqual(message.payload);
      await messageStatus(message.id, 'succeeded');
      const attempts = (await api.get(`/webhook-messages/${message.id}/attempts`).expect(200)).body.data;
      expect(attempts.map((a: { attempt_no: number; trigger: string }) => [a.attempt_no, a.trigger])).toEqual([
        [1, 'scheduled'],
        [2, 'resend'],
      ]);
      await api.delete(`/webhook-endpoints/${e.id}`).expect(204);
    });

    it('resend brings a scheduled retry forward instead of adding a second one', async () => {
      const e = await createEndpoint();
      receiver.failTimes(1, 503);
      const { message } = await ping(e.id);
      const waiting = await waitFor(async () => {
        const m = (await api.get(`/webhook-messages/${message.id}`)).body as { attempts: number; status: string; next_attempt_at: string | null };
        return m.attempts === 1 && m.status === 'pending' ? m : null;
      });
      expect(Date.parse(waiting.next_attempt_at as string) - Date.now()).toBeGreaterThan(30_000);
      await api.post(`/webhook-messages/${message.id}/resend`).expect(202);
      await messageStatus(message.id, 'succeeded');
      const attempts = (await api.get(`/webhook-messages/${message.id}/attempts`).expect(200)).body.data;
      expect(attempts.map((a: { attempt_no: number; trigger: string; status_code: number }) => [a.attempt_no, a.trigger, a.status_code])).toEqual([
        [1, 'scheduled', 503],
        [2, 'resend', 200],
      ]);
      expect(attempts[0]).toMatchObject({ response_body: 'planned failure 503', error: 'HTTP 503' });
      await ctx.queuesIdle({ except: (job) => job.name !== 'webhook.deliver' || !String(job.id).startsWith(`webhook-${message.id}`) });
      expect(receiver.forMessage(message.id)).toHaveLength(2);
      await api.delete(`/webhook-endpoints/${e.id}`).expect(204);
    });

    it('a disabled endpoint refuses test, resend and recover (409); recover resends its failed messages once enabled', async () => {
      const e = await createEndpoint();
      receiver.failTimes(1);
      const { message } = await ping(e.id);
      await waitFor(async () => ((await api.get(`/webhook-messages/${message.id}`)).body as { attempts: number }).attempts === 1);

      await api.patch(`/webhook-endpoints/${e.id}`, { enabled: false }).expect(200);
      expect((await api.get(`/webhook-messages/${message.id}`).expect(200)).body).toMatchObject({ status: 'failed', last_error: 'endpoint disabled' });
      const since = new Date(Date.now() - 60_000).toISOString();
      for (const res of [
        await api.post(`/webhook-messages/${message.id}/resend`),
        await api.post(`/webhook-endpoints/${e.id}/test`),
        await api.post(`/webhook-endpoints/${e.id}/recover?since=${since}`),
      ]) {
        expect(res.status).toBe(409);
        expect(res.body.error).toBe('webhook_endpoint_disabled');
      }

      await api.patch(`/webhook-endpoints/${e.id}`, { enabled: true }).expect(200);
      expect((await api.post(`/webhook-endpoints/${e.id}/recover?since=yesterday`).expect(400)).body.error).toBe('validation_failed');
      await api.post(`/webhook-endpoints/${e.id}/recover`).expect(400);
      expect((await api.post(`/webhook-endpoints/${e.id}/recover?since=${new Date(Date.now() + 60_000).toISOString()}`).expect(202)).body).toEqual({ resent: 0 });
      expect((await api.post(`/webhook-endpoints/${e.id}/recover?since=${since}`).expect(202)).body).toEqual({ resent: 1 });
      await messageStatus(message.id, 'succeeded');
      expect(receiver.forMessage(message.id).map((r) => r.answeredWith)).toEqual([500, 200]);
      const attempts = (await api.get(`/webhook-messages/${message.id}/attempts`).expect(200)).body.data;
      expect(attempts.map((a: { attempt_no: number; trigger: string }) => [a.attempt_no, a.trigger])).toEqual([
        [1, 'scheduled'],
        [2, 'recover'],
      ]);
      expect((await api.post(`/webhook-endpoints/${e.id}/recover?since=${since}`).expect(202)).body).toEqual({ resent: 0 });
      const events = (await api.get(`/webhook-endpoints/${e.id}/events`).expect(200)).body.data.map((ev: { type: string }) => ev.type);
      expect(events).toEqual(['endpoint.enabled', 'endpoint.disabled']);
      await api.delete(`/webhook-endpoints/${e.id}`).expect(204);
    });
  });
});
