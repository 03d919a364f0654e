import { hostname } from 'node:os';
import Redis from 'ioredis';
import request from 'supertest';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { EventWsLease } from '../src/modules/webhooks/event-ws/event-ws-lease';
import { ZoomEventWsService } from '../src/modules/webhooks/event-ws/zoom-event-ws.service';
import { createSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY, TestApp } from './utils/test-app';
import { waitFor } from './utils/wait-for';

const SUB = 'e2e-subscription-9';
const HEARTBEAT_MS = 200;
/** ZOOM_EVENT_WS_LEASE_TTL_MS's production default: a holder that dies is replaced once its lease expires. */
const LEASE_TTL_MS = 2_000;

/**
 * Issue 9: Zoom's event WebSocket as a second event source, against the simulator.
 * One API-only hub serves the sessions API and the queries; worker hubs (which consume
 * zoom-events and therefore run the event WebSocket) come and go.
 */
describe('Zoom event WebSocket (second event source)', () => {
  const ctx = useE2eContext({
    // The simulator drops a client that misses heartbeats, so staying connected proves they run.
    simulator: { eventSubscriptionId: SUB, eventWsHeartbeatTimeoutMs: 2000 },
    hub: { api: true },
    webhooks: false,
  });
  let redis: Redis;
  const workers: TestApp[] = [];

  const wsEnv = (): Record<string, string> => ({
    ZOOM_EVENT_WS_URL: ctx.sim.eventWsUrl,
    ZOOM_EVENT_SUBSCRIPTION_ID: SUB,
    ZOOM_EVENT_WS_HEARTBEAT_MS: String(HEARTBEAT_MS),
    ZOOM_EVENT_WS_RECONNECT_MIN_MS: '100',
    ZOOM_EVENT_WS_RECONNECT_MAX_MS: '1000',
    // ZOOM_EVENT_WS_LEASE_TTL_MS stays at its production default (2 s) for an honest takeover time.
  });
  const startWorker = async (): Promise<TestApp> => {
    const w = await ctx.startApp({ api: false, worker: { queues: [QueueName.ZoomEvents], explicit: true } }, wsEnv());
    workers.push(w);
    return w;
  };
  const stopWorker = async (w: TestApp): Promise<void> => {
    workers.splice(workers.indexOf(w), 1);
    await ctx.stopApp(w);
  };
  /**
   * The outcome of every lease check (take, else renew) a service makes from now on, in
   * order: true when it found itself holding the lease.
   */
  const standbyLeaseChecks = (svc: ZoomEventWsService): boolean[] => {
    const checks: boolean[] = [];
    const { tryAcquire, renew } = EventWsLease.prototype;
    jest.spyOn(EventWsLease.prototype, 'tryAcquire').mockImplementation(async function (this: EventWsLease) {
      const taken = await tryAcquire.call(this);
      if (taken && this.holderId === svc.status.holderId) checks.push(true);
      return taken;
    });
    // A check that could not take the lease goes on to renew it (true if it was ours).
    jest.spyOn(EventWsLease.prototype, 'renew').mockImplementation(async function (this: EventWsLease) {
      const held = await renew.call(this);
      if (this.holderId === svc.status.holderId) checks.push(held);
      return held;
    });
    return checks;
  };
  const leaseKey = () => `${process.env.QUEUE_PREFIX}:zoom-event-ws:lease:${SUB}`;
  const streamJobs = () => ctx.hub.producer.queueFor(JobName.StreamRun).getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
  const eventRows = (streamId: string) =>
    query<{ event_type: string; source: string; status: string }>(ctx.hub.app, `SELECT event_type, source, status FROM session_events WHERE rtms_stream_id = $1 AND event_type LIKE 'meeting.%' ORDER BY created_at`, [streamId]);
  const processed = (streamId: string, n: number) =>
    waitFor(async () => {
      const rows = await eventRows(streamId);
      return rows.length >= n && rows.every((r) => r.status === 'processed') ? rows : undefined;
    }, { what: `${n} event(s) of ${streamId} processed`, timeoutMs: 15000 });
  const metric = async (app: TestApp, line: RegExp): Promise<number> => {
    const res = await request(app.app.getHttpServer()).get('/metrics').set('x-api-key', API_KEY).expect(200);
    const m = res.text.split('\n').find((l) => line.test(l));
    return m ? Number(m.split(' ').pop()) : 0;
  };

  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    await redis?.del(leaseKey());
    await redis?.quit();
  });

  it('webhooks off: a meeting started in Zoom reaches the hub over the event WebSocket and the stream is captured as with webhooks', async () => {
    const w1 = await startWorker();
    await waitFor(() => ctx.sim.eventWsStats.live === 1 && w1.app.get(ZoomEventWsService).status.state === 'open', { what: 'event WebSocket connected' });
    expect(w1.app.get(ZoomEventWsService).status).toMatchObject({ state: 'open', holding: true });

    const meeting = ctx.sim.createMeeting({ participants: [{ userId: 1, name: 'Ada' }] });
    const created = await createSession(ctx.hub, { meetingId: meeting.id });
    const stream = await ctx.sim.startRtms(meeting.id);

    const session = await waitFor(
      async () => {
        const res = await request(ctx.hub.app.getHttpServer()).get(`/api/v1/sessions/${created.id}`).set('x-api-key', API_KEY);
        return res.body.status === 'streaming' ? res.body : undefined;
      },
      { what: 'session streaming', timeoutMs: 15000 },
    );
    expect(session.streams).toHaveLength(1);
    expect(session.streams[0]).toMatchObject({ rtms_stream_id: stream.streamId });
    // The stream job is added just after the session's move to streaming commits.
    const job = await waitFor(async () => (await streamJobs()).find((j) => j.id === stream.streamId), { what: 'the stream job' });
    expect(job?.data).toEqual({ rtmsStreamId: stream.streamId, sessionId: created.id });
    expect(await processed(stream.streamId, 1)).toEqual([{ event_type: 'meeting.rtms_started', source: 'event_ws', status: 'processed' }]);
    // What the event caused (the session's move to streaming…) carries its source too, not `webhook`.
    const derived = await query<{ event_type: string; source: string }>(
      ctx.hub.app,
      `SELECT event_type, source FROM session_events WHERE session_id = $1 AND event_type NOT LIKE 'meeting.%' AND source NOT IN ('api', 'worker') ORDER BY created_at`,
      [created.id],
    );
    expect(derived.length).toBeGreaterThanOrEqual(1);
    expect(derived.filter((r) => r.source !== 'event_ws')).toEqual([]);
    expect(ctx.sim.webhookLog).toHaveLength(0);
    expect(ctx.sim.eventWsDeliveries.some((d) => d.event === 'meeting.rtms_started')).toBe(true);

    // Heartbeats flow on schedule and are answered (the simulator would close us otherwise).
    const hb = ctx.sim.eventWsStats.heartbeats;
    await waitFor(() => ctx.sim.eventWsStats.heartbeats >= hb + 3, { what: 'three more heartbeats' });
    expect(await metric(w1, /^rtms_hub_zoom_event_ws_state_changes_total\{state="open"\}/)).toBeGreaterThanOrEqual(1);
    expect(await metric(w1, /^rtms_hub_zoom_event_ws_connected /)).toBe(1);
  });

  it('both sources on: an event that arrives by webhook and over the WebSocket is stored and processed once', async () => {
    ctx.sim.setWebhookTarget(ctx.webhookUrl);
    try {
      const meeting = ctx.sim.createMeeting();
      const stream = await ctx.sim.startRtms(meeting.id);
      await waitFor(() => ctx.sim.webhookLog.some((w) => w.event === 'meeting.rtms_started' && w.status === 200 && w.body.includes(stream.streamId)), { what: 'webhook delivered' });
      await waitFor(() => ctx.sim.eventWsDeliveries.some((d) => d.content.includes(stream.streamId)), { what: 'WebSocket delivery' });
      await ctx.sim.stopRtms(stream.streamId, 6);
      await waitFor(() => ctx.sim.webhookLog.some((w) => w.event === 'meeting.rtms_stopped' && w.status === 200 && w.body.includes(stream.streamId)), { what: 'stop webhook delivered' });
      await waitFor(() => ctx.sim.eventWsDeliveries.filter((d) => d.content.includes(stream.streamId)).length === 2, { what: 'stop over the WebSocket' });
      const rows = await processed(stream.streamId, 2);
      // Each event once (from whichever source won the race), never twice.
      expect(rows.map((r) => r.event_type).sort()).toEqual(['meeting.rtms_started', 'meeting.rtms_stopped']);
      expect((await streamJobs()).filter((j) => j.id === stream.streamId)).toHaveLength(1);
      const dup = await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM rtms_streams WHERE rtms_stream_id = $1`, [stream.streamId]);
      expect(dup[0].n).toBe(1);
      // The loser of each race was seen and refused as a duplicate (by webhook or by WebSocket).
      const w1 = workers[0];
      const wsDup = await metric(w1, /^rtms_hub_zoom_event_ws_events_total\{outcome="duplicate"\}/);
      const hookDup = await metric(ctx.hub, /^rtms_hub_zoom_events_received_total\{event="meeting\.rtms_(started|stopped)",source="webhook",outcome="duplicate"\}/);
      expect(wsDup + hookDup).toBeGreaterThanOrEqual(1);
    } finally {
      ctx.sim.setWebhookTarget(null);
    }
  });

  it('a malformed frame is logged and counted; the connection stays up and the next event is processed', async () => {
    const w1 = workers[0];
    const accepted = ctx.sim.eventWsStats.connectionsAccepted;
    const before = await metric(w1, /^rtms_hub_zoom_event_ws_frames_total\{kind="malformed"\}/);
    ctx.sim.eventWs.publish('garbage', '{"event": "meeting.rtms_started", ');
    ctx.sim.eventWs.publish('garbage', '[]');
    ctx.sim.eventWs.publish('garbage', JSON.stringify({ payload: { no: 'event name' } }));
    await waitFor(async () => (await metric(w1, /^rtms_hub_zoom_event_ws_frames_total\{kind="malformed"\}/)) === before + 3, { what: 'malformed frames counted' });
    const meeting = ctx.sim.createMeeting();
    const stream = await ctx.sim.startRtms(meeting.id);
    await processed(stream.streamId, 1);
    expect(ctx.sim.eventWsStats.connectionsAccepted).toBe(accepted);
    expect(ctx.sim.eventWsStats.live).toBe(1);
  });

  it('a frame over 1 MB is logged, counted and dropped; the connection stays up and the next event is processed', async () => {
    const w1 = workers[0];
    const accepted = ctx.sim.eventWsStats.connectionsAccepted;
    const before = await metric(w1, /^rtms_hub_zoom_event_ws_frames_total\{kind="malformed"\}/);
    ctx.sim.eventWs.publish('garbage', JSON.stringify({ event: 'meeting.rtms_started', payload: { pad: 'x'.repeat(2 * 1024 * 1024) } }));
    await waitFor(async () => (await metric(w1, /^rtms_hub_zoom_event_ws_frames_total\{kind="malformed"\}/)) === before + 1, { what: 'oversize frame counted' });
    const stream = await ctx.sim.startRtms(ctx.sim.createMeeting().id);
    await processed(stream.streamId, 1);
    expect(ctx.sim.eventWsStats.connectionsAccepted).toBe(accepted);
    expect(ctx.sim.eventWsStats.live).toBe(1);
  });

  it('the simulator drops the socket: the hub reconnects at once and heartbeats resume; an event Zoom sent while it was away is lost (no replay)', async () => {
    const w1 = workers[0];
    const accepted = ctx.sim.eventWsStats.connectionsAccepted;
    expect(ctx.sim.faults.dropEventWs({ abrupt: true })).toBe(1);
    // An event while the socket is down: Zoom does not keep it for the next connection…
    const m1 = ctx.sim.createMeeting();
    const during = await ctx.sim.startRtms(m1.id);
    await waitFor(() => ctx.sim.eventWsStats.connectionsAccepted === accepted + 1 && ctx.sim.eventWsStats.live === 1, { what: 'reconnected' });
    const hb = ctx.sim.eventWsStats.heartbeats;
    await waitFor(() => ctx.sim.eventWsStats.heartbeats >= hb + 2, { what: 'heartbeats after the reconnect' });
    // …one after the reconnect arrives (once). Zero-gap intake needs webhooks as well.
    const m2 = ctx.sim.createMeeting();
    const after = await ctx.sim.startRtms(m2.id);
    expect(await processed(after.streamId, 1)).toHaveLength(1);
    expect(await eventRows(during.streamId)).toEqual([]);
    expect(ctx.sim.eventWsStats.maxLive).toBe(1);
    expect(await metric(w1, /^rtms_hub_zoom_event_ws_closes_total\{code="1006"\}/)).toBeGreaterThanOrEqual(1);
  });

  it('a token Zoom no longer accepts: the refused handshake (401) drops it and the next attempt fetches a new one', async () => {
    const w1 = workers[0];
    const rejected = ctx.sim.eventWsStats.connectionsRejected.length;
    const accepted = ctx.sim.eventWsStats.connectionsAccepted;
    ctx.sim.expireAccessTokens();
    ctx.sim.faults.dropEventWs();
    await waitFor(() => ctx.sim.eventWsStats.connectionsAccepted === accepted + 1 && ctx.sim.eventWsStats.live === 1, { what: 'reconnected with a new token' });
    expect(ctx.sim.eventWsStats.connectionsRejected.slice(rejected).map((r) => r.status)).toEqual([401]);
    expect(await metric(w1, /^rtms_hub_zoom_event_ws_closes_total\{code="http_401"\}/)).toBe(1);
    const s = await ctx.sim.startRtms(ctx.sim.createMeeting().id);
    await processed(s.streamId, 1);
  });

  it('two hub processes: one connection at the simulator; the standby takes over at once when the holder shuts down', async () => {
    const [w1] = workers;
    const w2 = await startWorker();
    const svc2 = w2.app.get(ZoomEventWsService);
    // Several of the standby's lease checks go by (every ≤1.2 s), each finding the lease
    // held, and the simulator never sees a second connection (its high-water mark).
    const checks = standbyLeaseChecks(svc2);
    try {
      await waitFor(() => checks.length >= 3, { what: "three of the standby's lease checks", timeoutMs: 10000 });
      expect(checks.slice(0, 3)).toEqual([false, false, false]);
    } finally {
      jest.restoreAllMocks();
    }
    expect(ctx.sim.eventWsStats.live).toBe(1);
    expect(svc2.status).toMatchObject({ state: 'standby', holding: false });
    expect(ctx.sim.eventWsStats.maxLive).toBe(1);

    const accepted = ctx.sim.eventWsStats.connectionsAccepted;
    const holder = w1.app.get(ZoomEventWsService).status.holderId;
    const t0 = Date.now();
    await stopWorker(w1);
    // A clean shutdown gives the lease back (the standby need not wait for it to expire).
    expect(await redis.get(leaseKey())).not.toBe(holder);
    await waitFor(() => ctx.sim.eventWsStats.connectionsAccepted === accepted + 1 && ctx.sim.eventWsStats.live === 1 && svc2.status.state === 'open', { what: 'standby connected', timeoutMs: 15000 });
    const handoverMs = Date.now() - t0;
    // Includes the holder's whole app shutdown; that it did not wait for the lease to expire
    // is shown by the released lease above.
    console.log(`event WebSocket hand-over on shutdown: ${handoverMs} ms (lease TTL ${LEASE_TTL_MS} ms)`);
    expect(svc2.status).toMatchObject({ state: 'open', holding: true });
    const m = ctx.sim.createMeeting();
    const s = await ctx.sim.startRtms(m.id);
    await processed(s.streamId, 1);
    await stopWorker(w2);
    expect(await redis.get(leaseKey())).toBeNull();
  });

  it('the holder process is killed (SIGKILL): another process connects once its lease expires; events sent in the gap are lost', async () => {
    // A real child process holds the socket.
    const child = ctx.spawnWorker({ ...wsEnv(), WORKER_QUEUES: QueueName.ZoomEvents });
    const pid = child.pid;
    try {
      await waitFor(async () => (await redis.get(leaseKey()))?.startsWith(`${hostname()}:${pid}:`) && ctx.sim.eventWsStats.live === 1, { what: 'child holds the socket', timeoutMs: 45000, intervalMs: 100 });
    } catch (err) {
      throw new Error(`${String(err)}\nchild output:\n${child.output().slice(-4000)}`);
    }
    const w3 = await startWorker();
    const svc3 = w3.app.get(ZoomEventWsService);
    await waitFor(() => svc3.status.state === 'standby', { what: 'in-process hub on standby' });
    const accepted = ctx.sim.eventWsStats.connectionsAccepted;
    expect(ctx.sim.eventWsStats.live).toBe(1);

    const killedAt = Date.now();
    await child.stop('SIGKILL');
    await waitFor(() => ctx.sim.eventWsStats.live === 0, { what: 'simulator saw the socket close' });
    // An event during the gap is lost: Zoom does not replay it (hence webhooks as well for zero-gap intake).
    const gap = await ctx.sim.startRtms(ctx.sim.createMeeting().id);
    // Within a generous bound past the lease TTL; the figure itself is only reported.
    await waitFor(() => ctx.sim.eventWsStats.connectionsAccepted === accepted + 1 && ctx.sim.eventWsStats.live === 1, { what: 'takeover', timeoutMs: LEASE_TTL_MS + 10000, intervalMs: 50 });
    await waitFor(() => svc3.status.state === 'open', { what: 'takeover open' });
    const takeoverMs = Date.now() - killedAt;
    console.log(`event WebSocket takeover after SIGKILL: ${takeoverMs} ms (lease TTL ${LEASE_TTL_MS} ms)`);
    expect(svc3.status).toMatchObject({ state: 'open', holding: true });

    const next = await ctx.sim.startRtms(ctx.sim.createMeeting().id);
    expect(await processed(next.streamId, 1)).toEqual([{ event_type: 'meeting.rtms_started', source: 'event_ws', status: 'processed' }]);
    expect((await streamJobs()).filter((j) => j.id === next.streamId)).toHaveLength(1);
    expect(await eventRows(gap.streamId)).toEqual([]);
    expect(ctx.sim.eventWsStats.maxLive).toBe(1);
  });
});

describe('Zoom event WebSocket token refresh', () => {
  const SUB2 = 'e2e-subscription-9-refresh';
  // Tokens live 3 s, so the hub must renew them (at 90 % of a short lifetime) to reconnect.
  const ctx = useE2eContext({
    simulator: { eventSubscriptionId: SUB2, accessTokenTtlSec: 3, webhookUrl: null },
    hub: { api: false, worker: { queues: [QueueName.ZoomEvents], explicit: true } },
    env: (sim) => ({
      ZOOM_EVENT_WS_URL: sim!.eventWsUrl,
      ZOOM_EVENT_SUBSCRIPTION_ID: SUB2,
      ZOOM_EVENT_WS_HEARTBEAT_MS: String(HEARTBEAT_MS),
      ZOOM_EVENT_WS_RECONNECT_MIN_MS: '100',
    }),
  });
  it('fetches a new client_credentials token before the old one expires, and reconnects with it without a 401', async () => {
    const tokenCalls = () => ctx.sim.restLog.filter((c) => c.path === '/oauth/token' && c.status === 200);
    await waitFor(() => ctx.sim.eventWsStats.live === 1, { what: 'connected' });
    expect(tokenCalls()).toHaveLength(1);
    const first = tokenCalls()[0];
    expect(String(first.headers.authorization)).toBe('Basic ' + Buffer.from('test_client_id:test_client_secret').toString('base64'));
    expect(first.body).toContain('grant_type=client_credentials');
    await waitFor(() => tokenCalls().length >= 2, { what: 'token refreshed', timeoutMs: 5000 });
    expect(tokenCalls()[1].at - first.at).toBeLessThan(3000);
    // The first token has expired by now; a reconnect uses the refreshed one.
    await waitFor(() => Date.now() > first.at + 3100, { what: 'first token expired' });
    const accepted = ctx.sim.eventWsStats.connectionsAccepted;
    ctx.sim.faults.dropEventWs();
    await waitFor(() => ctx.sim.eventWsStats.connectionsAccepted === accepted + 1, { what: 'reconnected' });
    expect(ctx.sim.eventWsStats.connectionsRejected).toEqual([]);
    await waitFor(() => ctx.hub.app.get(ZoomEventWsService).status.state === 'open', { what: 'open again' });
  });
});
