import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { isLive, startLiveStream, streamRow } from './factories/stream.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { waitFor } from './utils/wait-for';

/**
 * A Zoom failover whose rtms_started arrives after the stream worker gave up on the dead
 * server (stream failed, its job failed for good): the stream runs again on the new
 * server_urls (StreamsService.attachStarted, ZoomEventHandlerService).
 */
describe('Failover of a stream that had already failed', () => {
  const ctx = useE2eContext({
    // Zoom waits for the client well past the hub's own window (the hub gives up first).
    simulator: { keepAliveIntervalMs: 150, signalingReconnectWindowMs: 30_000, mediaReconnectWindowMs: 30_000, speed: 4, videoScale: 0.25 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams], explicit: true } },
    env: () => ({
      RTMS_KEEPALIVE_TIMEOUT_MS: '1200',
      RTMS_SIGNALING_RECONNECT_WINDOW_MS: '1500',
      RTMS_MEDIA_RECONNECT_WINDOW_MS: '1500',
      RTMS_RECONNECT_BASE_MS: '100',
      RTMS_RECONNECT_MAX_MS: '400',
      RTMS_HANDSHAKE_TIMEOUT_MS: '2000',
    }),
  });

  const startedEvents = (id: string) =>
    query<{ status: string }>(ctx.hub.app, `SELECT status FROM session_events WHERE rtms_stream_id = $1 AND event_type = 'meeting.rtms_started' ORDER BY created_at`, [id]);
  const sessionStatus = async (sessionId: string) => (await query<{ status: string }>(ctx.hub.app, `SELECT status FROM sessions WHERE id = $1`, [sessionId]))[0].status;

  it('a late rtms_started with new server_urls runs the failed stream again; one with the same URLs stays a duplicate', async () => {
    const { id, meeting } = await startLiveStream(ctx.sim, ctx.hub);
    const job = () => ctx.hub.producer.queueFor(JobName.StreamRun).getJob(id);
    // The failover webhook is lost at first: the hub retries the old server (INVALID_RTMS_STREAM_ID) until its window closes.
    ctx.sim.setWebhookTarget(null);
    let newUrl: string;
    try {
      newUrl = ctx.sim.failover(id);
      await waitFor(async () => (await streamRow(ctx.hub, id)).status === 'failed', { timeoutMs: 10_000, what: 'stream failed' });
      await waitFor(async () => (await (await job())!.getState()) === 'failed', { what: 'the stream job to fail' });
    } finally {
      ctx.sim.setWebhookTarget(ctx.webhookUrl);
    }
    const { session_id: sessionId, server_urls: oldUrl } = (await query<{ session_id: string; server_urls: string }>(ctx.hub.app, `SELECT session_id, server_urls FROM rtms_streams WHERE rtms_stream_id = $1`, [id]))[0];
    await waitFor(async () => (await sessionStatus(sessionId)) === 'failed', { what: 'session failed' });
    const started = (serverUrls: string) =>
      ctx.sim.sendWebhook('meeting.rtms_started', { meeting_uuid: meeting.uuid, operator_id: 'op1', rtms_stream_id: id, server_urls: serverUrls, meeting_id: meeting.id });

    // Same URLs (a late retry of the first delivery): a duplicate, nothing runs.
    const before = (await startedEvents(id)).length;
    started(oldUrl);
    await waitFor(async () => (await startedEvents(id)).length === before + 1 && (await startedEvents(id)).every((e) => e.status === 'processed'), { what: 'duplicate processed' });
    expect((await streamRow(ctx.hub, id)).status).toBe('failed');
    expect(await (await job())!.getState()).toBe('failed');

    // New URLs (Zoom's failover, late): the stream is reset and its job queued again, and it connects there.
    started(newUrl);
    await waitFor(() => isLive(ctx.sim, id) && ctx.sim.record(id).connections.some((c) => c.kind === 'signaling' && c.handshakeStatus === 0 && c.path.includes('/s1/')), {
      timeoutMs: 10_000,
      what: 'reconnected on the new URL',
    });
    await waitFor(async () => (await streamRow(ctx.hub, id)).status === 'active', { what: 'stream active again' });
    const row = (await query<{ server_urls: string; failover_count: number; failure_reason: string | null }>(ctx.hub.app, `SELECT server_urls, failover_count, failure_reason FROM rtms_streams WHERE rtms_stream_id = $1`, [id]))[0];
    expect(row).toEqual({ server_urls: newUrl, failover_count: 1, failure_reason: null });
    expect(await sessionStatus(sessionId)).toBe('streaming');
    expect(await (await job())!.getState()).toBe('active');
    expect(ctx.sim.record(id).maxLiveSignaling).toBe(1);
    await ctx.sim.stopRtms(id);
    await waitFor(async () => (await sessionStatus(sessionId)) === 'stopped', { what: 'session stopped' });
  });
});
