import { Webhook } from 'standardwebhooks';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import type { ParticipantScript } from '../src/simulator/types';
import { insertWebhookEndpoint } from './factories/webhook-endpoint.factory';
import { createSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { playMeeting, waitingParticipants } from './utils/sim-script';
import { API_KEY } from './utils/test-app';
import { waitFor } from './utils/wait-for';
import { WebhookReceiver } from './utils/webhook-receiver';

interface Envelope {
  type: string;
  id: string;
  timestamp: string;
  data: Record<string, unknown> & { session_id: string | null; sequence: number | null };
}

const SPEED = 4;
const ANN = 201;
const BOB = 202;
const POLICY = {
  media_types: ['audio', 'video', 'transcript', 'chat'],
  video: { skip_first_frames: 0, interval_ms: 0, max_frames_per_user: 3 },
  audio: { mode: 'per_participant', segment_seconds: 2 },
  transcript: { enabled: true },
  chat: { enabled: true },
};

/**
 * Acceptance of the app-event producers: a meeting run through the simulator, captured
 * by the hub (API + zoom-events, rtms-streams, media-frames and app-webhooks workers in
 * one process), reaches an app's endpoint subscribed to `*` as signed webhooks, checked
 * with the `standardwebhooks` package (not the hub's code): session.created →
 * status_changed(streaming) → participant.joined (each) → status_changed(stopped, with
 * Zoom's stop reason) → recording.ready whose counts are what the artifacts API lists.
 */
describe('App webhooks: a simulated meeting, as an app receives it', () => {
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
  });
  afterAll(async () => {
    await receiver?.close();
  });

  const ctx = useE2eContext({
    simulator: { speed: SPEED, videoScale: 0.25 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams, QueueName.MediaFrames, QueueName.AppWebhooks], explicit: true } },
    env: () => ({ WEBHOOK_ALLOW_PRIVATE_URLS: 'true', AUDIO_SEGMENT_IDLE_FINALIZE_MS: '800', MEDIA_BATCH_FLUSH_MS: '50' }),
  });

  async function listAll<T>(path: string): Promise<T[]> {
    const all: T[] = [];
    let cursor: string | null = null;
    do {
      const res = await ctx.http().get(`${path}?limit=100${cursor ? `&cursor=${cursor}` : ''}`).set('x-api-key', API_KEY).expect(200);
      all.push(...(res.body.data as T[]));
      cursor = res.body.next_cursor as string | null;
    } while (cursor);
    return all;
  }

  it('delivers the meeting in order, signed, ending with recording.ready whose counts match the artifacts', async () => {
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url(), ['*']);
    // The script (both joining, the lines) runs from the moment the hub receives media, so a
    // slow connect on a busy machine cannot make it miss a line; then the meeting ends and the
    // stream stops with reason 6 (MEETING_ENDED).
    const script: ParticipantScript[] = [
      { userId: ANN, name: 'Ann', speaks: [{ atMs: 3000, text: 'Hello from Ann.', durationMs: 1200 }], chat: [{ atMs: 4000, text: 'hi' }] },
      { userId: BOB, name: 'Bob', joinAtMs: 1000, speaks: [{ atMs: 6000, text: 'Bob here.', durationMs: 1200 }] },
    ];
    const meeting = ctx.sim.createMeeting({ participants: waitingParticipants(script) });
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: POLICY });
    const stream = await ctx.sim.startRtms(meeting.id);
    await playMeeting(ctx.sim, meeting.id, stream.streamId, script, ['transcript', 'chat'], 9000);

    await waitFor(async () => ((await ctx.hub.producer.queueFor(JobName.StreamRun).getJob(stream.streamId))?.finishedOn ? true : undefined), {
      timeoutMs: 20000,
      what: 'the stream job to finish',
    });
    const parse = (body: string) => JSON.parse(body) as Envelope;
    const ofSession = () => receiver.requests.filter((r) => parse(r.body).data.session_id === sessionId);
    await waitFor(() => ofSession().some((r) => parse(r.body).type === 'recording.ready'), { timeoutMs: 25000, what: 'recording.ready at the receiver' });
    // Nothing more is coming for this session (recording.ready is its last event): let in-flight deliveries land.
    await ctx.queuesIdle({ queues: [QueueName.AppWebhooks, QueueName.MediaFrames], timeoutMs: 15000 });

    // Every delivery verifies with an independent Standard Webhooks implementation, and its body is the envelope.
    const wh = new Webhook(endpoint.secret);
    const deliveries = ofSession();
    for (const d of deliveries) {
      const headers = { 'webhook-id': d.webhookId, 'webhook-timestamp': d.webhookTimestamp, 'webhook-signature': d.webhookSignature };
      const verified = wh.verify(d.body, headers) as Envelope;
      expect(verified).toEqual(parse(d.body));
      expect(Object.keys(verified).sort()).toEqual(['data', 'id', 'timestamp', 'type']);
    }
    const forged = deliveries[0];
    expect(() =>
      new Webhook('whsec_' + Buffer.alloc(32, 7).toString('base64')).verify(forged.body, {
        'webhook-id': forged.webhookId,
        'webhook-timestamp': forged.webhookTimestamp,
        'webhook-signature': forged.webhookSignature,
      }),
    ).toThrow();

    // One delivery per event, sequences strictly increasing in creation order: the session's
    // events are numbered 1..n without gaps, and '*' receives all but the opt-in transcript lines.
    const events = deliveries.map((d) => parse(d.body)).sort((a, b) => (a.data.sequence ?? 0) - (b.data.sequence ?? 0));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    for (let i = 1; i < events.length; i++) expect(events[i].data.sequence).toBeGreaterThan(events[i - 1].data.sequence ?? 0);
    const stored = await query<{ type: string; sequence: string }>(ctx.hub.app, `SELECT type, sequence::text FROM app_events WHERE session_id = $1 ORDER BY created_at, sequence`, [sessionId]);
    expect(stored.map((e) => Number(e.sequence))).toEqual(stored.map((_, i) => i + 1));
    expect(events.map((e) => e.data.sequence)).toEqual(stored.filter((e) => e.type !== 'transcript.segment').map((e) => Number(e.sequence)));
    expect(stored.filter((e) => e.type === 'transcript.segment')).toHaveLength(2);
    for (let i = 1; i < events.length; i++) expect(Date.parse(events[i].timestamp)).toBeGreaterThanOrEqual(Date.parse(events[i - 1].timestamp));
    expect(events.every((e) => e.type !== 'transcript.segment')).toBe(true); // opt-in: not part of '*'

    const types = events.map((e) => (e.type === 'session.status_changed' ? `status:${String(e.data.status)}` : e.type));
    const at = (t: string) => types.indexOf(t);
    expect(types[0]).toBe('session.created');
    expect(at('status:streaming')).toBe(1);
    const joined = events.filter((e) => e.type === 'participant.joined');
    expect(joined.map((e) => (e.data.participant as { user_id: string }).user_id).sort()).toEqual([String(ANN), String(BOB)]);
    for (const j of joined) {
      expect(events.indexOf(j)).toBeGreaterThan(at('status:streaming'));
      expect(events.indexOf(j)).toBeLessThan(at('status:stopped'));
      expect(j.data).toMatchObject({ rtms_stream_id: stream.streamId, participant: { user_name: expect.any(String) }, at: expect.any(String) });
    }
    expect(types[types.length - 1]).toBe('recording.ready');
    expect(types.filter((t) => t === 'recording.ready')).toHaveLength(1);
    expect(types.filter((t) => t === 'status:stopped')).toHaveLength(1);

    const created = events[0];
    expect(created.data.session).toMatchObject({ id: sessionId, meeting_id: String(meeting.id), status: 'created' });
    expect(events[1].data).toMatchObject({ status: 'streaming', previous_status: 'created', reason: 'rtms_started', stop_reason: null, failure_reason: null });
    const stopped = events[at('status:stopped')];
    expect(stopped.data).toMatchObject({ status: 'stopped', previous_status: 'streaming', stop_reason: 6, stop_reason_name: 'STOP_BC_MEETING_ENDED', failure_reason: null });

    // recording.ready: counts are exactly what the artifacts API and the transcript list.
    const ready = events[events.length - 1];
    const artifacts = await listAll<{ kind: string }>(`/api/v1/sessions/${sessionId}/artifacts`);
    const kind = (k: string) => artifacts.filter((a) => a.kind === k).length;
    const transcript = await ctx.http().get(`/api/v1/sessions/${sessionId}/transcript?format=json`).set('x-api-key', API_KEY).expect(200);
    expect(ready.data).toEqual({
      session_id: sessionId,
      sequence: stored.length,
      counts: {
        video_frames: kind('video_frame'),
        share_frames: kind('share_frame'),
        audio_segments: kind('audio_segment'),
        transcript_segments: (transcript.body.data as unknown[]).length,
        chat_messages: kind('chat'),
      },
      complete: true,
      artifacts_url: `/api/v1/sessions/${sessionId}/artifacts`,
      transcript_url: `/api/v1/sessions/${sessionId}/transcript`,
    });
    const counts = ready.data.counts as Record<string, number>;
    expect(counts.audio_segments).toBeGreaterThanOrEqual(2);
    expect(counts.video_frames).toBeGreaterThan(0);
    expect(counts.transcript_segments).toBe(2);
    expect(counts.chat_messages).toBe(1);
  }, 60000);
});
