import { createServer } from 'node:net';
import request from 'supertest';
import { TcpFaultProxy } from '../bench/tcp-fault-proxy';
import { QueueName } from '../src/jobs/queue-names';
import { SessionEventsService } from '../src/modules/sessions';
import { PendingEventsSweeper } from '../src/modules/webhooks/pending-events.sweeper';
import { ENQUEUE_TIMEOUT_MS, ZoomEventWriter } from '../src/modules/webhooks/zoom-event-writer';
import { webhookSignature } from '../src/simulator';
import { query } from './utils/db';
import { TEST_ZOOM_APP, useE2eContext, WEBHOOK_PATH } from './utils/e2e-context';
import type { TestApp } from './utils/test-app';
import { spawnEntrypoint } from './utils/processes';
import { waitFor } from './utils/wait-for';

jest.setTimeout(120_000);

/** Zoom's deadline is 3 s; the answer must come well inside it. */
const ACK_BOUND_MS = ENQUEUE_TIMEOUT_MS + 1000;

/** A free loopback port (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

let seq = 0;
/** A signed Zoom event the zoom-events job processes without side effects (a concurrency warning), unique per call. */
function signedEvent(): { body: string; headers: Record<string, string>; marker: number } {
  const marker = Date.now() * 1000 + seq++;
  const body = JSON.stringify({ event: 'rtms.concurrency_near_limit', event_ts: marker, payload: { concurrency_limit: 2000, concurrency_number: 1700, percentage: 85 } });
  const ts = String(Math.floor(Date.now() / 1000));
  return { body, marker, headers: { 'content-type': 'application/json', 'x-zm-request-timestamp': ts, 'x-zm-signature': webhookSignature(TEST_ZOOM_APP.webhookSecretToken, ts, body) } };
}

/**
 * An API process whose Redis is unreachable (a fault proxy between it and the test Redis,
 * cut), and a worker that reaches Redis directly (the hub). BullMQ's connections do not
 * fail while Redis is away, they wait (maxRetriesPerRequest null, offline queue): Zoom
 * must still get its 200 in time once the event is stored, and the event must be applied
 * once Redis answers — by the API's own late enqueue or by the worker's pending-events
 * sweeper — and only once.
 */
describe('Zoom webhook intake while Redis is unreachable', () => {
  let proxy: TcpFaultProxy;
  let proxiedRedisUrl: string;
  const ctx = useE2eContext({ hub: { api: false, worker: { queues: [QueueName.ZoomEvents], explicit: true } } });

  beforeAll(async () => {
    const redis = new URL(process.env.REDIS_URL!);
    proxy = await new TcpFaultProxy({ host: redis.hostname, port: Number(redis.port || 6379) }).start();
    redis.host = `127.0.0.1:${proxy.port}`;
    proxiedRedisUrl = redis.toString();
  });

  afterAll(async () => {
    proxy?.restore();
    await proxy?.stop();
  });

  afterEach(() => {
    proxy.restore();
    jest.restoreAllMocks();
  });

  const startApi = () => ctx.startApp({ api: true }, { REDIS_URL: proxiedRedisUrl });
  const statusOf = async (marker: number) => (await query<{ status: string }>(ctx.hub.app, `SELECT status FROM session_events WHERE event_ts = $1`, [marker]))[0]?.status;
  const idOf = async (marker: number) => (await query<{ id: string }>(ctx.hub.app, `SELECT id FROM session_events WHERE event_ts = $1`, [marker]))[0]?.id;
  const sweeper = () => ctx.hub.app.get(PendingEventsSweeper, { strict: false });

  /** Posts a signed event to `api`; the answer and how long it took (a timeout counts as no answer). */
  async function post(api: TestApp | string) {
    const event = signedEvent();
    const started = Date.now();
    const res = await request(typeof api === 'string' ? api : api.app.getHttpServer()).post(WEBHOOK_PATH).set(event.headers).send(event.body).timeout(5000).catch((err: unknown) => ({ status: 0, body: { error: String(err) } }));
    return { ...event, status: res.status, body: res.body as unknown, ms: Date.now() - started };
  }

  async function cutRedis(): Promise<void> {
    proxy.cut();
    // The API's connections see the cut (reset, then refused on each reconnect attempt).
    await new Promise((r) => setTimeout(r, 300));
  }

  it('stored events are acknowledged in time while Redis is down, and applied once it is back', async () => {
    const api = await startApi();
    await cutRedis();
    // Before the fix the answer waited for Redis: no answer within 5 s.
    const first = await post(api);
    expect({ status: first.status, body: first.body }).toEqual({ status: 200, body: { status: 'accepted' } });
    expect(first.ms).toBeLessThan(ACK_BOUND_MS);
    // The next ones do not wait for Redis at all.
    const second = await post(api);
    expect({ status: second.status, body: second.body }).toEqual({ status: 200, body: { status: 'accepted' } });
    expect(second.ms).toBeLessThan(ACK_BOUND_MS);
    expect(await statusOf(first.marker)).toBe('received');
    expect(await statusOf(second.marker)).toBe('received');

    proxy.restore();
    for (const e of [first, second]) await waitFor(async () => (await statusOf(e.marker)) === 'processed', { timeoutMs: 30_000, what: 'the event stored during the outage to be applied' });
    await ctx.stopApp(api);
  });

  it('an event stored while Redis was down, whose API process was killed before Redis came back, is queued by the sweeper and applied', async () => {
    // A real API process (its held enqueue and the ids it keeps die with it).
    const port = await freePort();
    const api = spawnEntrypoint('main.api.ts', { ...ctx.env, PORT: String(port), REDIS_URL: proxiedRedisUrl });
    try {
      await waitFor(() => api.output().includes('listening on port'), { timeoutMs: 90_000, intervalMs: 200, what: 'the API process to start' }).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${api.output().slice(-3000)}`);
      });
      await cutRedis();
      const lost = await post(`http://127.0.0.1:${port}`);
      expect({ status: lost.status, body: lost.body }).toEqual({ status: 200, body: { status: 'accepted' } });
      expect(lost.ms).toBeLessThan(ACK_BOUND_MS);
      await api.stop('SIGKILL');
      proxy.restore();
      expect(await statusOf(lost.marker)).toBe('received');

      expect(await sweeper().sweep(0)).toBeGreaterThanOrEqual(1);
      await waitFor(async () => (await statusOf(lost.marker)) === 'processed', { timeoutMs: 30_000, what: 'the swept event to be applied' });
    } finally {
      await api.stop('SIGKILL');
    }
  });

  it("the API's held enqueue landing after the sweeper queued the event does not apply it twice", async () => {
    const finish = jest.spyOn(ctx.hub.app.get(SessionEventsService, { strict: false }), 'finishEvent');
    const api = await startApi();
    await cutRedis();
    const late = await post(api);
    expect(late.status).toBe(200);
    const eventId = await idOf(late.marker);
    // The worker reaches Redis (a partition of the API only): its sweep queues the event and it is applied.
    expect(await sweeper().sweep(0)).toBeGreaterThanOrEqual(1);
    await waitFor(async () => (await statusOf(late.marker)) === 'processed', { timeoutMs: 30_000, what: 'the swept event to be applied' });

    // Redis back for the API: its held addBulk (same job id) goes through.
    const writer = api.app.get(ZoomEventWriter, { strict: false }) as unknown as { stall: unknown };
    expect(writer.stall).not.toBeNull();
    proxy.restore();
    await waitFor(() => writer.stall === null, { timeoutMs: 30_000, what: "the API's held enqueue to go through" });
    await ctx.queuesIdle({ queues: [QueueName.ZoomEvents] });
    expect(finish.mock.calls.filter(([id]) => id === eventId)).toHaveLength(1);
    expect(await statusOf(late.marker)).toBe('processed');
    await ctx.stopApp(api);
  });
});
