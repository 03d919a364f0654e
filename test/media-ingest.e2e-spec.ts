import request from 'supertest';
import { StreamSignalPublisher } from '../src/common/stream-signals/stream-signal-publisher';
import { JobName } from '../src/jobs/job-names';
import type { MediaBatchPayload } from '../src/jobs/job-payloads';
import { QueueName } from '../src/jobs/queue-names';
import { insertSession } from './factories/session.factory';
import { insertStreamAndRun, isLive as isLiveAt, startLiveStream, streamRow, StreamRow } from './factories/stream.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { spooledAudio } from './utils/spooled-audio';
import { API_KEY } from './utils/test-app';
import { waitFor } from './utils/wait-for';

/**
 * The hub's stream worker (in-process) against the Zoom simulator, with short
 * keep-alive intervals and reconnection windows so every case runs in seconds.
 */
describe('Media ingest: RTMS stream worker against the simulator', () => {
  const ctx = useE2eContext({
    simulator: { keepAliveIntervalMs: 150, signalingReconnectWindowMs: 4000, mediaReconnectWindowMs: 3000, speed: 4, videoScale: 0.25 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams], explicit: true } },
    env: () => ({
      RTMS_KEEPALIVE_TIMEOUT_MS: '1200',
      RTMS_SIGNALING_RECONNECT_WINDOW_MS: '2500',
      RTMS_MEDIA_RECONNECT_WINDOW_MS: '2000',
      RTMS_RECONNECT_BASE_MS: '100',
      RTMS_RECONNECT_MAX_MS: '400',
      RTMS_HANDSHAKE_TIMEOUT_MS: '2000',
      MEDIA_BATCH_FLUSH_MS: '50',
      // Keep-everything capture policy: these cases assert every media message reaches the pipeline.
      CAPTURE_VIDEO_INTERVAL_MS: '0',
      CAPTURE_DESKSHARE_INTERVAL_MS: '0',
    }),
  });

  const row = (id: string) => streamRow(ctx.hub, id);
  const streamJob = (id: string) => ctx.hub.producer.queueFor(JobName.StreamRun).getJob(id);
  const isLive = (id: string) => isLiveAt(ctx.sim, id);

  /** What reached the savers: media-frames batch items (the queue is not consumed here) and the spooled audio. */
  async function mediaItems(id: string): Promise<Array<{ job: string; msgType: number; userId: number; data?: string }>> {
    const jobs = await ctx.hub.producer.queue(QueueName.MediaFrames).getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']);
    const batched = jobs.flatMap((j) =>
      ((j.data as MediaBatchPayload).streams ?? []).filter((s) => s.rtmsStreamId === id).flatMap((s) => s.items.map((i) => ({ job: j.name, ...i }))),
    );
    const audio = (await spooledAudio(ctx.hub.app, id)).map((p) => ({ job: 'audio-spool', msgType: 14, userId: p.userId }));
    return [...batched, ...audio];
  }

  /** Starts a meeting + stream and waits until the hub holds it (signaling + one media socket). */
  const startStream = () => startLiveStream(ctx.sim, ctx.hub);

  const signalingConnections = (id: string) => ctx.sim.record(id).connections.filter((c) => c.kind === 'signaling' && c.handshakeStatus === 0);

  it('a 3-participant meeting: handshakes, every keep-alive answered on both sockets, every media message reaches the pipeline, participants and events recorded', async () => {
    const meeting = ctx.sim.createMeeting({
      participants: [
        // Script times are meeting time (÷ speed 4); everything happens after the hub has connected.
        { userId: 101, name: 'Ann', speaks: [{ atMs: 8000, text: 'hello everyone', durationMs: 1200 }], chat: [{ atMs: 9000, text: 'hi' }], shares: [{ fromMs: 9000, toMs: 12000 }] },
        { userId: 102, name: 'Bob', speaks: [{ atMs: 10000, text: 'hi Ann', durationMs: 1200 }], chat: [{ atMs: 11000, text: 'yo' }], cameraSchedule: [{ atMs: 10000, on: false }, { atMs: 12000, on: true }] },
        { userId: 103, name: 'Cy', joinAtMs: 8000, leaveAtMs: 14000 },
      ],
    });
    const stream = await ctx.sim.startRtms(meeting.id);
    const id = stream.streamId;
    await waitFor(() => isLive(id), { timeoutMs: 10000, what: 'connected' });
    const hs = ctx.sim.record(id).handshakes;
    expect(hs.find((h) => h.socket === 'signaling')).toMatchObject({ statusCode: 0 });
    expect(hs.find((h) => h.socket === 'media')).toMatchObject({ statusCode: 0 });
    const sigReq = hs.find((h) => h.socket === 'signaling')!.request as Record<string, unknown>;
    expect(sigReq).toMatchObject({ msg_type: 1, protocol_version: 1, sequence: 1, meeting_uuid: meeting.uuid, rtms_stream_id: id });
    const mediaReq = hs.find((h) => h.socket === 'media')!.request as Record<string, unknown>;
    expect(mediaReq).toMatchObject({ msg_type: 3, media_type: 31, media_params: { audio: { data_opt: 2, content_type: 2 }, video: { codec: 5 }, transcript: { content_type: 5 }, chat: { content_type: 5 } } });

    // Let the script play to its end (14 s of meeting time at speed 4 → 3.5 s).
    await waitFor(() => (ctx.sim.record(id).messagesSent.byType[17] ?? 0) >= 2 && (ctx.sim.record(id).messagesSent.byType[16] ?? 0) >= 1 && Date.now() - meeting.createdAt > 14500 / 4, {
      timeoutMs: 10000,
      what: 'the script played',
    });
    await waitFor(() => ctx.sim.record(id).keepAlives.media.answered >= 5 && ctx.sim.record(id).keepAlives.signaling.answered >= 5, { what: 'keep-alives' });
    await ctx.sim.stopRtms(id, 6);
    const job = await waitFor(async () => ((await streamJob(id))?.finishedOn ? streamJob(id) : undefined), { what: 'stream job finished' });
    expect(await job!.getState()).toBe('completed');

    const rec = ctx.sim.record(id);
    for (const socket of ['signaling', 'media'] as const) {
      // Every request was answered (one may have been in flight when the stream ended).
      expect(rec.keepAlives[socket].answered).toBeGreaterThanOrEqual(rec.keepAlives[socket].sent - 1);
    }
    expect(rec.maxLiveSignaling).toBe(1);
    expect(rec.readyAcks.every((a) => a.valid)).toBe(true);
    expect(rec.subscriptions).toEqual(expect.arrayContaining([2, 3, 4, 5, 6, 8, 9]));

    // Every media message the simulator sent is in a media-frames batch: per type and per user.
    const sentByType: Record<string, number> = {};
    for (const t of [14, 15, 16, 17, 18]) if (rec.messagesSent.byType[t]) sentByType[t] = rec.messagesSent.byType[t];
    const items = await waitFor(
      async () => {
        const got = await mediaItems(id);
        return got.length === Object.values(sentByType).reduce((a, b) => a + b, 0) ? got : undefined;
      },
      { timeoutMs: 15_000, what: 'all media items enqueued' },
    );
    const gotByType: Record<string, number> = {};
    const gotByUser: Record<string, Record<number, number>> = {};
    for (const i of items) {
      gotByType[i.msgType] = (gotByType[i.msgType] ?? 0) + 1;
      (gotByUser[String(i.userId)] ??= {})[i.msgType] = (gotByUser[String(i.userId)]?.[i.msgType] ?? 0) + 1;
    }
    expect(gotByType).toEqual(sentByType);
    for (const [user, byType] of Object.entries(rec.messagesSent.byUser)) {
      for (const t of [14, 15, 16, 17, 18]) expect(gotByUser[user]?.[t] ?? 0).toBe(byType[t] ?? 0);
    }
    expect(Object.keys(sentByType).sort()).toEqual(['14', '15', '16', '17', '18']);
    const jobNames = new Set(items.map((i) => `${i.job}:${i.msgType}`));
    expect(jobNames).toEqual(new Set(['audio-spool:14', 'frame.save:15', 'frame.save:16', 'transcript.save:17', 'chat.save:18']));
    const video = items.find((i) => i.msgType === 15)!;
    expect(Buffer.from(video.data!, 'base64').subarray(0, 2).toString('hex')).toBe('ffd8'); // data kept as received

    // Participants, events, rows.
    const [r] = await query<StreamRow>(ctx.hub.app, `SELECT * FROM rtms_streams WHERE rtms_stream_id = $1`, [id]);
    expect(r).toMatchObject({ status: 'stopped', stop_reason: 6 });
    expect(r.connected_at).not.toBeNull();
    expect(r.last_keepalive_at).not.toBeNull();
    const participants = await query<{ zoom_user_id: string; user_name: string; left_at: Date | null }>(
      ctx.hub.app,
      `SELECT zoom_user_id, user_name, left_at FROM participants WHERE session_id = $1 ORDER BY zoom_user_id`,
      [r.session_id],
    );
    expect(participants.map((p) => [p.zoom_user_id, p.user_name])).toEqual([['101', 'Ann'], ['102', 'Bob'], ['103', 'Cy']]);
    expect(participants[2].left_at).not.toBeNull();
    const types = (await query<{ event_type: string }>(ctx.hub.app, `SELECT DISTINCT event_type FROM session_events WHERE rtms_stream_id = $1`, [id])).map((e) => e.event_type);
    expect(types).toEqual(
      expect.arrayContaining([
        'rtms.first_packet_timestamp',
        'rtms.participant_joined',
        'rtms.participant_left',
        'rtms.active_speaker_changed',
        'rtms.sharing_started',
        'rtms.sharing_stopped',
        'rtms.participant_video_off',
        'rtms.participant_video_on',
        'rtms.stream_state',
      ]),
    );
    const [session] = await query<{ status: string; stop_reason: number; stop_reason_name: string }>(ctx.hub.app, `SELECT status, stop_reason, stop_reason_name FROM sessions WHERE id = $1`, [r.session_id]);
    expect(session).toEqual({ status: 'stopped', stop_reason: 6, stop_reason_name: 'STOP_BC_MEETING_ENDED' });

    const metrics = await request(ctx.hub.app.getHttpServer()).get('/metrics').set('x-api-key', API_KEY).expect(200);
    expect(metrics.text).toMatch(/rtms_hub_rtms_handshakes_total\{socket="signaling",result="ok"\} [1-9]/);
    expect(metrics.text).toMatch(/rtms_hub_media_messages_total\{media_type="video"\} [1-9]/);
    expect(metrics.text).toMatch(/rtms_hub_media_bytes_total\{media_type="audio"\} [1-9]/);
    expect(metrics.text).toMatch(/rtms_hub_keepalive_reply_seconds_count\{socket="media"\} [1-9]/);
  });

  it('(1) failover: a new rtms_started with new server_urls → everything redone on the new URLs, one connection at a time', async () => {
    const { id } = await startStream();
    const newUrl = ctx.sim.failover(id);
    await waitFor(() => ctx.sim.record(id).connections.some((c) => c.kind === 'signaling' && c.handshakeStatus === 0 && c.path.includes('/s1/')) && isLive(id), {
      timeoutMs: 8000,
      what: 'reconnected on the new URL',
    });
    expect(newUrl).toContain('/s1/');
    const rec = ctx.sim.record(id);
    expect(rec.maxLiveSignaling).toBe(1);
    expect(rec.connections.some((c) => c.kind === 'media' && c.handshakeStatus === 0 && c.path.includes('/s1/'))).toBe(true);
    await waitFor(async () => ((await row(id)).reconnect_counts.failover ?? 0) + ((await row(id)).reconnect_counts.socket_closed ?? 0) >= 1, { what: 'reconnect counted' });
    expect((await row(id)).status).toBe('active');
    await ctx.sim.stopRtms(id);
  });

  it('(2) rtms_interrupted (signaling dropped) → signaling and media redone', async () => {
    const { id } = await startStream();
    const before = signalingConnections(id).length;
    ctx.sim.faults.dropSignaling(id, { webhook: true });
    await waitFor(() => signalingConnections(id).length === before + 1 && isLive(id), { timeoutMs: 8000, what: 'signaling + media redone' });
    // The rtms_interrupted webhook is applied too; it does not tear down the new, healthy connection.
    await waitFor(async () => (await query(ctx.hub.app, `SELECT 1 FROM session_events WHERE rtms_stream_id = $1 AND event_type = 'meeting.rtms_interrupted' AND status = 'processed'`, [id])).length === 1, {
      what: 'interrupted webhook processed',
    });
    await waitFor(async () => (await row(id)).status === 'active', { what: 'active again' });
    const rec = ctx.sim.record(id);
    expect(rec.maxLiveSignaling).toBe(1);
    expect(rec.state).toBe('active');
    await ctx.sim.stopRtms(id);
  });

  it('(2b) a stale rtms_interrupted (the current signaling answers STREAM_STATE_REQ) keeps the healthy connection', async () => {
    const { id, meeting } = await startStream();
    const before = signalingConnections(id).length;
    // Zoom says signaling broke while our socket looks open: the STREAM_STATE_REQ probe decides.
    // The simulator answers it, so the webhook is treated as stale and the connection kept.
    ctx.sim.sendWebhook('meeting.rtms_interrupted', { meeting_uuid: meeting.uuid, rtms_stream_id: id });
    await waitFor(async () => (await query(ctx.hub.app, `SELECT 1 FROM session_events WHERE rtms_stream_id = $1 AND event_type = 'stream.interrupted_webhook_stale'`, [id])).length === 1, {
      what: 'probe answered',
    });
    expect(signalingConnections(id).length).toBe(before);
    expect(isLive(id)).toBe(true);
    await ctx.sim.stopRtms(id);
  });

  it.each([['event'], ['state']] as const)('(3) media interruption (notify %s) → media redone, signaling kept', async (notify) => {
    const { id } = await startStream();
    const sigBefore = signalingConnections(id).length;
    const mediaBefore = ctx.sim.record(id).connections.filter((c) => c.kind === 'media' && c.handshakeStatus === 0).length;
    ctx.sim.faults.dropMedia(id, { notify });
    await waitFor(() => ctx.sim.record(id).connections.filter((c) => c.kind === 'media' && c.handshakeStatus === 0).length === mediaBefore + 1 && isLive(id), {
      timeoutMs: 6000,
      what: 'media redone',
    });
    expect(signalingConnections(id).length).toBe(sigBefore);
    expect(ctx.sim.record(id).maxLiveMedia).toBe(1);
    await waitFor(async () => {
      const c = (await row(id)).reconnect_counts;
      return (c.media_interrupted ?? 0) + (c.socket_closed ?? 0) >= 1;
    }, { what: 'media reconnect counted' });
    await ctx.sim.stopRtms(id);
  });

  it('(4) a signaling socket closed without any notice → reconnect with backoff', async () => {
    const { id } = await startStream();
    const before = signalingConnections(id).length;
    ctx.sim.faults.dropSignaling(id, { webhook: false });
    await waitFor(() => signalingConnections(id).length === before + 1 && isLive(id), { timeoutMs: 6000, what: 'reconnected' });
    // Counted through the stream's ordered write buffer, so it may land just after the reconnect.
    await waitFor(async () => ((await row(id)).reconnect_counts.socket_closed ?? 0) >= 1, { what: 'reconnect counted' });
    expect(ctx.sim.record(id).maxLiveSignaling).toBe(1);
    await ctx.sim.stopRtms(id);
  });

  it('(4) beyond the window: a stream that cannot be reconnected fails with a clear reason', async () => {
    const { id } = await startStream();
    // The new server_urls never reach the hub: the old URL answers INVALID_RTMS_STREAM_ID until the window closes.
    ctx.sim.setWebhookTarget(null);
    try {
      ctx.sim.failover(id);
      const r = await waitFor(async () => ((await row(id)).status === 'failed' ? row(id) : undefined), { timeoutMs: 8000, what: 'stream failed' });
      expect(r.failure_reason).toMatch(/signaling reconnect window \(2500 ms\) exhausted.*INVALID_RTMS_STREAM_ID/);
      const [session] = await query<{ status: string; failure_reason: string }>(ctx.hub.app, `SELECT status, failure_reason FROM sessions WHERE id = $1`, [r.session_id]);
      expect(session.status).toBe('failed');
      // The job ends after its stream's last bookkeeping (the recording hold is released).
      const job = await streamJob(id);
      await waitFor(async () => (await job!.getState()) === 'failed', { what: 'the stream job to fail' });
    } finally {
      ctx.sim.setWebhookTarget(ctx.webhookUrl);
    }
  });

  it('no keep-alive on signaling for the timeout → the signaling handshake is redone', async () => {
    const { id } = await startStream();
    const before = signalingConnections(id).length;
    ctx.sim.faults.stopKeepAlives(id, 'signaling');
    await waitFor(async () => ((await row(id)).reconnect_counts.keepalive_timeout ?? 0) >= 1, { timeoutMs: 6000, what: 'keep-alive timeout reconnect' });
    ctx.sim.faults.resumeKeepAlives(id, 'signaling');
    await waitFor(() => signalingConnections(id).length > before && isLive(id), { timeoutMs: 6000, what: 'reconnected' });
    expect(ctx.sim.record(id).maxLiveSignaling).toBe(1);
    await ctx.sim.stopRtms(id);
  });

  it('the same rtms_started delivered 5 times plus a Zoom-style retry 3 s later → one connection', async () => {
    const meeting = ctx.sim.createMeeting();
    ctx.sim.faults.duplicateWebhooks(5, 1);
    const stream = await ctx.sim.startRtms(meeting.id);
    const id = stream.streamId;
    await waitFor(() => isLive(id), { timeoutMs: 10000, what: 'connected' });
    const first = ctx.sim.webhookLog.find((w) => w.event === 'meeting.rtms_started' && w.body.includes(id))!;
    ctx.sim.faults.redeliverWebhook(first.body, { delayMs: 3000 });
    await waitFor(() => ctx.sim.webhookLog.filter((w) => w.event === 'meeting.rtms_started' && w.body.includes(id) && w.status === 200).length >= 6, {
      timeoutMs: 6000,
      what: '6 deliveries acknowledged',
    });
    await waitFor(async () => (await query(ctx.hub.app, `SELECT 1 FROM session_events WHERE rtms_stream_id = $1 AND event_type = 'meeting.rtms_started' AND status <> 'received'`, [id])).length >= 1, {
      what: 'started event handled',
    });
    // Every delivery was answered, so whatever it queued is on the queues: once they have
    // no job left but the one holding this stream, a duplicate job (if any) has run.
    await ctx.queuesIdle({ except: (job, queue) => queue.name === QueueName.RtmsStreams && job.id === id });
    const rec = ctx.sim.record(id);
    // One job for the stream whatever the deliveries, and one connection per run of it. A
    // run more than one means the lease fence struck (a host stalled past the 1.6 s lease on
    // a loaded machine: the holder lets go and the same job runs again), not a duplicate.
    const queue = ctx.hub.producer.queueFor(JobName.StreamRun);
    const jobsOfStream = (await queue.getJobs(['active', 'wait', 'delayed', 'completed', 'failed'])).filter((j) => j.data.rtmsStreamId === id);
    expect(jobsOfStream.map((j) => j.id)).toEqual([id]);
    const runs = jobsOfStream[0].attemptsStarted;
    if (runs > 1) console.log(`stream ${id}: ran ${runs} times (lease fence on a stalled host); one connection each`);
    expect(signalingConnections(id)).toHaveLength(runs);
    expect(rec.maxLiveSignaling).toBe(1);
    expect(rec.handshakes.filter((h) => h.socket === 'signaling')).toHaveLength(runs);
    await ctx.sim.stopRtms(id);
  });

  it('malformed media messages are counted and logged; the stream keeps running', async () => {
    const { id } = await startStream();
    const connsBefore = ctx.sim.record(id).connections.length;
    for (const kind of ['bad-json', 'bad-base64', 'missing-fields', 'unknown-type', 'binary-json', 'wrong-length'] as const) {
      ctx.sim.faults.malformedMedia(id, kind);
    }
    const metricValue = async (re: RegExp) => {
      const text = (await request(ctx.hub.app.getHttpServer()).get('/metrics').set('x-api-key', API_KEY)).text;
      const m = re.exec(text);
      return m ? Number(m[1]) : 0;
    };
    await waitFor(async () => (await metricValue(/rtms_hub_rtms_messages_invalid_total\{reason="bad_json"\} (\d+)/)) >= 1, { timeoutMs: 8000, what: 'bad_json counted' });
    expect(await metricValue(/rtms_hub_rtms_messages_invalid_total\{reason="bad_base64"\} (\d+)/)).toBeGreaterThanOrEqual(1);
    expect(await metricValue(/rtms_hub_rtms_messages_invalid_total\{reason="missing_data"\} (\d+)/)).toBeGreaterThanOrEqual(1);
    expect(await metricValue(/rtms_hub_rtms_messages_invalid_total\{reason="unexpected_msg_type"\} (\d+)/)).toBeGreaterThanOrEqual(1);
    // Nothing reconnected; media still flows; the binary-frame JSON message reached the pipeline.
    expect(ctx.sim.record(id).connections.length).toBe(connsBefore);
    expect(isLive(id)).toBe(true);
    await waitFor(async () => (await mediaItems(id)).some((i) => i.msgType === 14 && i.userId === 0), { what: 'binary-frame message in the pipeline' });
    await ctx.sim.stopRtms(id);
  });

  it('a media message over RTMS_MAX_MESSAGE_BYTES closes the media socket with 1009 before it is buffered; counted, and media reconnects', async () => {
    const { id } = await startStream();
    const metricValue = async (re: RegExp) => {
      const text = (await request(ctx.hub.app.getHttpServer()).get('/metrics').set('x-api-key', API_KEY)).text;
      const m = re.exec(text);
      return m ? Number(m[1]) : 0;
    };
    const closesBefore = await metricValue(/rtms_hub_rtms_oversize_closes_total\{socket="media"\} (\d+)/);
    const mediaHandshakes = () => ctx.sim.record(id).handshakes.filter((h) => h.socket !== 'signaling').length;
    const shakesBefore = mediaHandshakes();
    ctx.sim.faults.malformedMedia(id, 'oversized'); // 10 MB of JSON, the limit is 8 MiB
    await waitFor(async () => (await metricValue(/rtms_hub_rtms_oversize_closes_total\{socket="media"\} (\d+)/)) > closesBefore, { timeoutMs: 8000, what: 'the 1009 close counted' });
    await waitFor(async () => mediaHandshakes() > shakesBefore, { timeoutMs: 15000, what: 'media to reconnect' });
    expect(isLive(id)).toBe(true);
    const n0 = (await mediaItems(id)).length;
    await waitFor(async () => (await mediaItems(id)).length > n0, { timeoutMs: 15000, what: 'media flowing again' });
    await ctx.sim.stopRtms(id);
  });

  it('pause / resume move the stream and the session; a close request sends STREAM_CLOSE_REQ and the session stops with reason 20', async () => {
    const { id } = await startStream();
    const r0 = await row(id);
    ctx.sim.pauseRtms(id);
    await waitFor(async () => (await row(id)).status === 'paused', { what: 'paused' });
    await waitFor(async () => (await query<{ status: string }>(ctx.hub.app, `SELECT status FROM sessions WHERE id = $1`, [r0.session_id]))[0].status === 'paused', { what: 'session paused' });
    ctx.sim.resumeRtms(id);
    await waitFor(async () => (await row(id)).status === 'active', { what: 'resumed' });
    await waitFor(async () => (await query<{ status: string }>(ctx.hub.app, `SELECT status FROM sessions WHERE id = $1`, [r0.session_id]))[0].status === 'streaming', { what: 'session streaming' });
    await ctx.hub.app.get(StreamSignalPublisher, { strict: false }).publish({ type: 'close', rtmsStreamId: id });
    await waitFor(async () => (await row(id)).status === 'stopped', { timeoutMs: 6000, what: 'stopped after close' });
    expect(ctx.sim.record(id).messagesReceived.byType[21]).toBe(1);
    const [session] = await query<{ status: string; stop_reason: number }>(ctx.hub.app, `SELECT status, stop_reason FROM sessions WHERE id = $1`, [r0.session_id]);
    expect(session).toEqual({ status: 'stopped', stop_reason: 20 });
  });

  it('a stream Zoom revokes (STREAM_STATE_UPDATE TERMINATED, reason 8) has its media purge queued by the worker, not only by the rtms_stopped webhook', async () => {
    const { id } = await startStream();
    ctx.sim.faults.delayWebhooks(60_000); // rtms_stopped comes (much) later, or not at all
    await ctx.sim.stopRtms(id, 8);
    const purge = await waitFor(() => ctx.hub.producer.queue(QueueName.MediaFrames).getJob(`media-purge-${id}`), { timeoutMs: 6000, what: 'the media purge job' });
    expect(purge.data).toEqual({ rtmsStreamId: id });
    expect(ctx.sim.webhookLog.filter((w) => w.event.endsWith('.rtms_stopped') && w.body.includes(id))).toEqual([]);
  });

  it('a refused handshake (INVALID_SIGNATURE) is permanent: the stream fails with the named reason, no retry', async () => {
    ctx.sim.setWebhookTarget(null);
    const meeting = ctx.sim.createMeeting();
    const stream = await ctx.sim.startRtms(meeting.id);
    ctx.sim.setWebhookTarget(ctx.webhookUrl);
    // A session bound to a different meeting uuid signs a handshake the server refuses.
    const sessionId = await insertSession(ctx.hub, { meetingUuid: 'not-the-uuid==', status: 'streaming' });
    await insertStreamAndRun(ctx.hub, { rtmsStreamId: stream.streamId, sessionId, serverUrls: stream.serverUrls });
    const r = await waitFor(async () => ((await row(stream.streamId))?.status === 'failed' ? row(stream.streamId) : undefined), { what: 'failed' });
    expect(r.failure_reason).toMatch(/INVALID_SIGNATURE \(3\)/);
    expect(ctx.sim.record(stream.streamId).handshakes.filter((h) => h.socket === 'signaling')).toHaveLength(1);
    const events = await query<{ payload: Record<string, unknown> }>(ctx.hub.app, `SELECT payload FROM session_events WHERE rtms_stream_id = $1 AND event_type = 'rtms.handshake_refused'`, [stream.streamId]);
    expect(events[0].payload).toMatchObject({ status_code: 3, status_name: 'INVALID_SIGNATURE', class: 'permanent' });
    await ctx.sim.stopRtms(stream.streamId);
  });
});
