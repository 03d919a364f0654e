import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { MediaComposeModule, MediaComposeProcessor } from '../src/modules/media-compose';
import type { ComposeEngine, ComposeInput, ComposeResult } from '../src/modules/media-compose/engine/compose-types';
import type { ParticipantAudioEncoder, ParticipantAudioInput, ParticipantAudioResult } from '../src/modules/media-compose/engine/ffmpeg-compose-engine';
import { EventSource, SessionsService, SessionStatus } from '../src/modules/sessions';
import { PROCESSORS } from '../src/worker/processors';
import { insertWebhookEndpoint } from './factories/webhook-endpoint.factory';
import { HeadlessChromium, launchChromium } from './utils/chromium';
import { insertStreamingSession, seedAudio, seedVideo } from './utils/compose-seed';
import { ffprobe, h264Segment, playableMp4, tone } from './utils/h264-fixtures';
import { decodeMonoPcm, frameColours, toneBlocks, toneOnsetMs } from './utils/media-analysis';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY, TEST_KEYS } from './utils/test-app';
import { waitFor } from './utils/wait-for';
import { WebhookReceiver } from './utils/webhook-receiver';

interface Envelope {
  type: string;
  id: string;
  data: Record<string, unknown> & { session_id: string | null };
}

/**
 * A test-only engine: checks that every input file the job handed it exists, records the
 * input, writes a small deterministic "MP4" and answers like the real engine. `failNext`
 * makes the next call fail the way ffmpeg does (a deterministic error).
 */
class RecordingFakeEngine implements ComposeEngine {
  readonly calls: ComposeInput[] = [];
  failNext: Error | null = null;
  /** The next call writes a real playable MP4 (made by ffmpeg from test sources) instead of placeholder bytes. */
  playableNext = false;

  async compose(input: ComposeInput, outFile: string): Promise<ComposeResult> {
    for (const f of [...input.video.map((v) => v.path), ...input.audio.map((a) => a.path)]) await fs.access(f);
    this.calls.push(input);
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = null;
      throw err;
    }
    if (this.playableNext) {
      this.playableNext = false;
      await playableMp4(outFile, (input.endTs - input.startTs) / 1000);
    } else {
      await fs.writeFile(outFile, Buffer.from(`fake-mp4 ${input.startTs}-${input.endTs} v${input.video.length} a${input.audio.length} call${this.calls.length}`));
    }
    const body = await fs.readFile(outFile);
    return {
      durationMs: input.endTs - input.startTs,
      bytes: body.length,
      video: { codec: 'h264', width: input.output.width, height: input.output.height, fps: input.output.fps },
      audio: { codec: 'aac', sampleRate: 48000, channels: 1 },
      gaps: input.knownGaps,
      cpuMs: 12,
    };
  }
}

/** A test-only participant-audio encoder: writes a small file per participant and records what it got. */
class RecordingFakeEncoder implements ParticipantAudioEncoder {
  readonly calls: ParticipantAudioInput[] = [];

  async participantAudio(input: ParticipantAudioInput, outFile: string): Promise<ParticipantAudioResult> {
    for (const a of input.audio) await fs.access(a.path);
    this.calls.push(input);
    const body = Buffer.from(`OggS fake ${input.userId}`);
    await fs.writeFile(outFile, body);
    return { durationMs: input.endTs - input.startTs, bytes: body.length, codec: 'opus', gaps: [], cpuMs: 1 };
  }
}

const T0 = Date.now() - 60_000;

/** Browser-side expressions (evaluated in the page; the test's TypeScript has no DOM types). */
const VIDEO = `document.getElementById('v')`;
const VIDEO_DURATION = `Number.isFinite(${VIDEO}.duration) && ${VIDEO}.duration > 0 ? ${VIDEO}.duration : null`;
const VIDEO_PLAY = `${VIDEO}.play()`;
const SECOND_PCM = Buffer.alloc(16000 * 2); // 1 s of 16 kHz mono silence

describe('Recording composition (media-compose): trigger, exactly-once recording.ready, API', () => {
  let receiver: WebhookReceiver;
  let root: string;
  const engine = new RecordingFakeEngine();
  const encoder = new RecordingFakeEncoder();

  /** What a compose worker SIGKILLed mid-compose an hour ago left in the work dir. */
  let crashedDir: string;
  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rtms-compose-e2e-'));
    crashedDir = path.join(root, 'work', 'rtms-compose-Kil1ed');
    await fs.mkdir(crashedDir, { recursive: true });
    await fs.writeFile(path.join(crashedDir, 'recording.mp4'), Buffer.alloc(2048));
    const hourAgo = new Date(Date.now() - 3_600_000);
    await fs.utimes(crashedDir, hourAgo, hourAgo);
  });
  afterAll(async () => {
    await receiver?.close();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const registrations = PROCESSORS.filter((r) => r.queue !== QueueName.MediaCompose).concat({
    queue: QueueName.MediaCompose,
    processor: MediaComposeProcessor,
    handles: [JobName.RecordingCompose],
    imports: [MediaComposeModule.withEngine(engine, encoder)],
  });
  const ctx = useE2eContext({
    hub: { api: true, worker: { queues: [QueueName.MediaFrames, QueueName.MediaCompose, QueueName.AppWebhooks, QueueName.Maintenance], explicit: true, registrations } },
    env: () => ({ STORAGE_DRIVER: 'local', STORAGE_LOCAL_DIR: root, COMPOSE_RECORDINGS: 'true', COMPOSE_WORK_DIR: path.join(root, 'work'), WEBHOOK_ALLOW_PRIVATE_URLS: 'true', COMPOSE_WIDTH: '640', COMPOSE_HEIGHT: '360' }),
  });

  let endpoint: { secret: string };
  beforeAll(async () => {
    endpoint = await insertWebhookEndpoint(ctx.hub.app, receiver.url(), ['recording.ready']);
  });

  const parse = (body: string) => JSON.parse(body) as Envelope;
  const readyOf = (sessionId: string) => receiver.requests.map((r) => parse(r.body)).filter((e) => e.type === 'recording.ready' && e.data.session_id === sessionId);

  async function seededSession(policy: Record<string, unknown> = {}, owner: string | null = null, users: [string, string] = ['16778240', '16778241']): Promise<string> {
    const sessionId = await insertStreamingSession(ctx.hub, new Date(T0), policy, owner);
    await seedVideo(ctx.hub, root, sessionId, { userId: users[0], userName: 'Ann', firstTs: T0 + 100, frameTs: [0, 40, 80, 120], bytes: Buffer.from('annexb-1') });
    await seedVideo(ctx.hub, root, sessionId, { userId: users[1], userName: 'Bob', firstTs: T0 + 2000, frameTs: [0, 40, 80], bytes: Buffer.from('annexb-2') });
    await seedAudio(ctx.hub, root, sessionId, { userId: '0', firstTs: T0 + 50, pcm: Buffer.concat([SECOND_PCM, SECOND_PCM]), sampleRate: 16000, gaps: [{ at_ms: T0 + 1050, missing_ms: 500 }] });
    return sessionId;
  }

  const stop = (sessionId: string) => ctx.hub.app.get(SessionsService).transition(sessionId, SessionStatus.Stopped, { source: EventSource.Api, stopReason: 6 });
  const timeline = async (sessionId: string, type: string) =>
    query<{ payload: Record<string, unknown> }>(ctx.hub.app, `SELECT payload FROM session_events WHERE session_id = $1 AND event_type = $2 ORDER BY created_at`, [sessionId, type]);

  it('removes at start the work folder a killed compose worker left behind', async () => {
    await waitFor(async () => (await fs.access(crashedDir).then(() => false, () => true)) || undefined, { timeoutMs: 10000, what: 'the stale compose folder removed' });
    expect(await fs.readdir(path.join(root, 'work'))).toEqual([]);
    const metrics = await ctx.http().get('/metrics').set('x-api-key', API_KEY).expect(200);
    expect(metrics.text).toMatch(/^rtms_hub_compose_work_dirs_removed_total 1$/m);
    expect(metrics.text).toMatch(/^rtms_hub_compose_work_dir_removed_bytes_total 2048$/m);
  });

  it('composes when the session stops, stores one recording artifact, and announces recording.ready once with it', async () => {
    const sessionId = await seededSession();
    const calls = engine.calls.length;
    await stop(sessionId);

    await waitFor(() => readyOf(sessionId).length === 1 || undefined, { timeoutMs: 20000, what: 'recording.ready at the receiver' });
    const ready = readyOf(sessionId)[0];
    const recording = ready.data.recording as Record<string, unknown>;
    expect(recording).toMatchObject({ session_id: sessionId, kind: 'recording', content_type: 'video/mp4', user_id: '0', storage_key: `${sessionId}/recording/recording.mp4` });
    expect((recording.meta as Record<string, unknown>).codecs).toEqual({ video: 'h264', audio: 'aac' });
    expect(ready.data.counts).toMatchObject({ audio_segments: 1 });
    expect(ready.data.complete).toBe(true);
    expect(ready.data.recording_error).toBeUndefined();
    // Signed like every app webhook (independent Standard Webhooks implementation).
    const delivery = receiver.requests.find((r) => parse(r.body).id === ready.id)!;
    expect(() => new Webhook(endpoint.secret).verify(delivery.body, { 'webhook-id': delivery.webhookId, 'webhook-timestamp': delivery.webhookTimestamp, 'webhook-signature': delivery.webhookSignature })).not.toThrow();

    // What the engine was given: both speakers' segments, the WAV cut at its hole into two runs placed at their own timestamps.
    const input = engine.calls[calls];
    expect(input.video.map((v) => [v.userId, v.frameTs[0]])).toEqual([
      ['16778240', T0 + 100],
      ['16778241', T0 + 2000],
    ]);
    expect(input.audio.map((a) => [a.userId, a.startTs])).toEqual([
      [null, T0 + 50],
      [null, T0 + 1550],
    ]);
    expect(input.startTs).toBe(T0);
    expect(input.output).toEqual({ width: 640, height: 360, fps: 25 });

    // The artifacts API lists it (kind filter), the download route serves it with Range.
    const list = await ctx.http().get(`/api/v1/sessions/${sessionId}/artifacts?kind=recording`).set('x-api-key', API_KEY).expect(200);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0].id).toBe(recording.id);
    const full = await ctx.http().get(`/api/v1/artifacts/${String(recording.id)}/content`).set('x-api-key', API_KEY).buffer(true).parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(full.status).toBe(200);
    expect(full.headers['content-type']).toBe('video/mp4');
    const part = await ctx.http().get(`/api/v1/artifacts/${String(recording.id)}/content`).set('x-api-key', API_KEY).set('Range', 'bytes=0-3').expect(206);
    expect(part.headers['content-range']).toBe(`bytes 0-3/${full.body.length}`);

    // Timeline: capture complete, then composed (with the gaps the engine reported), then ready.
    expect(await timeline(sessionId, 'recording.capture_complete')).toHaveLength(1);
    expect(await timeline(sessionId, 'recording.composed')).toHaveLength(1);
    expect(await timeline(sessionId, 'recording.ready')).toHaveLength(1);
    // The work dir was cleaned up.
    expect(await fs.readdir(path.join(root, 'work'))).toEqual([]);

    // Another capture-complete check (a redelivered stop, a late saver) changes nothing.
    await ctx.hub.producer.enqueue(JobName.RecordingCheck, { sessionId });
    await ctx.queuesIdle({ queues: [QueueName.MediaFrames, QueueName.MediaCompose, QueueName.AppWebhooks], timeoutMs: 15000 });
    expect(readyOf(sessionId)).toHaveLength(1);
    const [{ n }] = await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM app_events WHERE session_id = $1 AND type = 'recording.ready'`, [sessionId]);
    expect(n).toBe(1);
  });

  it('re-composes on POST /sessions/:id/recording: 202, the same row and key replaced, no second recording.ready', async () => {
    const sessionId = await seededSession();
    await stop(sessionId);
    await waitFor(() => readyOf(sessionId).length === 1 || undefined, { timeoutMs: 20000, what: 'the first recording.ready' });
    const first = (readyOf(sessionId)[0].data.recording as { id: string; sha256: string });

    const res = await ctx.http().post(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', TEST_KEYS.operator).expect(202);
    expect(res.body).toMatchObject({ session_id: sessionId, revision: 1, job_id: `recording-compose-${sessionId}-r1` });
    await waitFor(async () => ((await timeline(sessionId, 'recording.composed')).length === 2) || undefined, { timeoutMs: 20000, what: 'the second composition' });

    const rows = await query<{ id: string; sha256: string }>(ctx.hub.app, `SELECT id, sha256 FROM media_artifacts WHERE session_id = $1 AND kind = 'recording'`, [sessionId]);
    expect(rows).toHaveLength(1);
    expect(rows[0].id).toBe(first.id);
    expect(rows[0].sha256).not.toBe(first.sha256); // the fake engine's output differs per call: the object was replaced
    const status = await ctx.http().get(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', TEST_KEYS.reader).expect(200);
    expect(status.body).toMatchObject({ session_id: sessionId, state: 'done', revision: 1, error: null, recording: { id: first.id, sha256: rows[0].sha256 } });
    await ctx.queuesIdle({ queues: [QueueName.MediaCompose, QueueName.AppWebhooks], timeoutMs: 15000 });
    expect(readyOf(sessionId)).toHaveLength(1);
  });

  it('a re-compose that cannot be queued answers 503 and its status says failed, not queued; the next request runs', async () => {
    const sessionId = await seededSession();
    await stop(sessionId);
    await waitFor(() => readyOf(sessionId).length === 1 || undefined, { timeoutMs: 20000, what: 'the first recording.ready' });
    const enqueue = jest.spyOn(ctx.hub.producer, 'enqueue').mockRejectedValueOnce(new Error('Connection is closed.'));
    try {
      const res = await ctx.http().post(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', TEST_KEYS.operator).expect(503);
      expect(res.body).toMatchObject({ error: 'recording_queue_unavailable' });
    } finally {
      enqueue.mockRestore();
    }
    const status = await ctx.http().get(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', TEST_KEYS.reader).expect(200);
    expect(status.body).toMatchObject({ state: 'failed', revision: 1, error: { code: 'recording_queue_unavailable' } });

    const again = await ctx.http().post(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', TEST_KEYS.operator).expect(202);
    expect(again.body).toMatchObject({ revision: 2 });
    await waitFor(async () => (await ctx.http().get(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', TEST_KEYS.reader)).body.state === 'done' || undefined, {
      timeoutMs: 20000,
      what: 'the next re-compose to be done',
    });
  });

  it('refuses to compose a session that has not ended (409), hides other owners’ sessions (404), and needs the control role (403)', async () => {
    const sessionId = await insertStreamingSession(ctx.hub, new Date(T0));
    const res = await ctx.http().post(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', API_KEY).expect(409);
    expect(res.body).toMatchObject({ error: 'recording_session_not_ended', details: { status: 'streaming' } });
    expect(await query(ctx.hub.app, `SELECT 1 FROM recording_compositions WHERE session_id = $1`, [sessionId])).toHaveLength(0);

    const owned = await insertStreamingSession(ctx.hub, new Date(T0), {}, 'tenant-b');
    await ctx.http().post(`/api/v1/sessions/${owned}/recording`).set('x-api-key', TEST_KEYS.tenantA).expect(404);
    await ctx.http().post(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', TEST_KEYS.reader).expect(403);
  });

  it('announces a deterministic ffmpeg failure once, as recording: null with recording_error, and records it', async () => {
    const sessionId = await seededSession();
    engine.failNext = new Error('ffmpeg exited with code 1: Invalid data found when processing input');
    await stop(sessionId);
    await waitFor(() => readyOf(sessionId).length === 1 || undefined, { timeoutMs: 20000, what: 'recording.ready with the error' });
    const ready = readyOf(sessionId)[0];
    expect(ready.data.recording).toBeNull();
    expect(ready.data.recording_error).toEqual({ code: 'compose_failed', message: 'ffmpeg exited with code 1: Invalid data found when processing input' });
    expect(await timeline(sessionId, 'recording.compose_failed')).toEqual([{ payload: expect.objectContaining({ code: 'compose_failed', revision: 'auto' }) }]);
    const job = await ctx.hub.producer.queueFor(JobName.RecordingCompose).getJob(`recording-compose-${sessionId}-auto`);
    expect(job?.attemptsMade).toBe(1); // not retried: the same input fails the same way
    const status = await ctx.http().get(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', API_KEY).expect(200);
    expect(status.body).toMatchObject({ state: 'failed', error: { code: 'compose_failed' }, recording: null });
  });

  it('retries an attempt that can pass (an interrupted run) and announces once when it succeeds', async () => {
    const sessionId = await seededSession();
    engine.failNext = Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
    await stop(sessionId);
    await waitFor(() => readyOf(sessionId).length === 1 || undefined, { timeoutMs: 30000, what: 'recording.ready after the retry' });
    expect(readyOf(sessionId)[0].data.recording).toMatchObject({ kind: 'recording' });
    const job = await ctx.hub.producer.queueFor(JobName.RecordingCompose).getJob(`recording-compose-${sessionId}-auto`);
    expect(job?.attemptsMade).toBe(2);
    expect(await timeline(sessionId, 'recording.compose_failed')).toHaveLength(0);
  });

  it('announces a source object that is gone as source_missing, without retrying', async () => {
    const sessionId = await seededSession();
    const [gone] = await query<{ storage_key: string }>(ctx.hub.app, `SELECT storage_key FROM media_artifacts WHERE session_id = $1 AND kind = 'video_segment' ORDER BY captured_at LIMIT 1`, [sessionId]);
    await fs.rm(path.join(root, ...gone.storage_key.split('/')));
    await stop(sessionId);
    await waitFor(() => readyOf(sessionId).length === 1 || undefined, { timeoutMs: 20000, what: 'recording.ready with source_missing' });
    expect(readyOf(sessionId)[0].data).toMatchObject({ recording: null, recording_error: { code: 'source_missing' } });
    const job = await ctx.hub.producer.queueFor(JobName.RecordingCompose).getJob(`recording-compose-${sessionId}-auto`);
    expect(job?.attemptsMade).toBe(1);
  });

  it("erasing a participant deletes the composed recording that shows them (row and object), and counts it", async () => {
    // Participants of this session only: the erasure reaches no other session of the file.
    const sessionId = await seededSession({}, null, ['31000001', '31000002']);
    await stop(sessionId);
    await waitFor(() => readyOf(sessionId).length === 1 || undefined, { timeoutMs: 20000, what: 'recording.ready' });
    const file = path.join(root, sessionId, 'recording', 'recording.mp4');
    await fs.access(file);

    const res = await ctx.http().post('/api/v1/erasures').set('x-api-key', API_KEY).send({ zoom_user_id: '31000002' }).expect(202);
    const done = await waitFor(
      async () => {
        const r = await ctx.http().get(`/api/v1/erasures/${String(res.body.id)}`).set('x-api-key', API_KEY).expect(200);
        return r.body.status === 'completed' ? (r.body as { counts: Record<string, number> }) : undefined;
      },
      { timeoutMs: 30000, what: 'the erasure to complete' },
    );
    expect(done.counts).toMatchObject({ recordings: 1 });
    expect(await query(ctx.hub.app, `SELECT 1 FROM media_artifacts WHERE session_id = $1 AND kind = 'recording'`, [sessionId])).toHaveLength(0);
    await expect(fs.access(file)).rejects.toMatchObject({ code: 'ENOENT' });
    // The other speaker's segment is still there to compose from again.
    expect(await query(ctx.hub.app, `SELECT user_id FROM media_artifacts WHERE session_id = $1 AND kind = 'video_segment'`, [sessionId])).toEqual([{ user_id: '31000001' }]);
  });

  it('stores one participant_audio file per participant when the policy asks for them, next to the recording from mixed audio', async () => {
    const sessionId = await seededSession({ recording: { compose: true, participant_audio: 'opus' } }, null, ['32000001', '32000002']);
    await seedAudio(ctx.hub, root, sessionId, { userId: '32000001', firstTs: T0 + 100, pcm: SECOND_PCM, sampleRate: 16000 });
    await seedAudio(ctx.hub, root, sessionId, { userId: '32000002', firstTs: T0 + 2000, pcm: SECOND_PCM, sampleRate: 16000 });
    const calls = engine.calls.length;
    await stop(sessionId);
    await waitFor(() => readyOf(sessionId).length === 1 || undefined, { timeoutMs: 20000, what: 'recording.ready' });
    // The recording carries Zoom's mixed stream, not the participants' tracks.
    expect(engine.calls[calls].audio.every((a) => a.userId === null)).toBe(true);
    const files = await query<{ user_id: string; content_type: string; storage_key: string; meta: { codec: string } }>(
      ctx.hub.app,
      `SELECT user_id, content_type, storage_key, meta FROM media_artifacts WHERE session_id = $1 AND kind = 'participant_audio' ORDER BY user_id`,
      [sessionId],
    );
    expect(files.map((f) => [f.user_id, f.content_type, f.storage_key, f.meta.codec])).toEqual([
      ['32000001', 'audio/ogg', `${sessionId}/participant_audio/user_32000001/audio.ogg`, 'opus'],
      ['32000002', 'audio/ogg', `${sessionId}/participant_audio/user_32000002/audio.ogg`, 'opus'],
    ]);
    const encoded = encoder.calls.filter((c) => c.audio.some((a) => a.userId === '32000002'));
    expect(encoded.map((c) => c.audio.map((a) => a.startTs))).toEqual([[T0 + 2000]]);
    const [composed] = await timeline(sessionId, 'recording.composed');
    expect(composed.payload.participant_audio).toHaveLength(2);
  });

  it('serves the recording to a browser: headless Chromium plays it from the download route (Range requests)', async () => {
    const sessionId = await insertStreamingSession(ctx.hub, new Date(T0));
    await seedAudio(ctx.hub, root, sessionId, { userId: '0', firstTs: T0, pcm: Buffer.concat([SECOND_PCM, SECOND_PCM, SECOND_PCM, SECOND_PCM]), sampleRate: 16000 });
    await query(ctx.hub.app, `UPDATE sessions SET status = 'stopped', ended_at = $2 WHERE id = $1`, [sessionId, new Date(T0 + 4000)]);
    engine.playableNext = true;
    await ctx.hub.producer.enqueue(JobName.RecordingCheck, { sessionId });
    await waitFor(() => readyOf(sessionId).length === 1 || undefined, { timeoutMs: 20000, what: 'recording.ready' });
    const recording = readyOf(sessionId)[0].data.recording as { id: string };

    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ extraHTTPHeaders: { 'x-api-key': API_KEY } });
      const page = await context.newPage();
      const ranges: string[] = [];
      page.on('request', (r) => {
        const range = r.headers().range;
        if (r.url().includes(recording.id) && range) ranges.push(range);
      });
      // A page of the hub's own origin (a loopback URL from about:blank is refused by Chromium's private network rules).
      await page.goto(`${ctx.hub.baseUrl}/health/live`);
      await page.setContent(`<video id="v" muted preload="auto" src="/api/v1/artifacts/${recording.id}/content"></video>`);
      const duration = await page.waitForFunction(VIDEO_DURATION, undefined, { timeout: 20000 });
      expect(Math.abs(Number(await duration.jsonValue()) - 4)).toBeLessThanOrEqual(1);
      await page.evaluate(VIDEO_PLAY);
      await page.waitForFunction(`${VIDEO}.currentTime > 0.5`, undefined, { timeout: 20000 });
      expect(await page.evaluate(`${VIDEO}.error`)).toBeNull();
      expect(ranges.length).toBeGreaterThan(0); // the media element asked with Range, and the hub answered it
    } finally {
      await browser.close();
    }
  });

  it('reports ffmpeg in /health/ready on a process that composes', async () => {
    const res = await ctx.http().get('/health/ready').expect(200);
    expect(res.body.details.ffmpeg).toEqual({ status: 'up', ffmpeg: 'ok', version: expect.stringMatching(/\d/), ffprobe_version: expect.stringMatching(/\d/) });
  });

  it('leaves recording.ready as it was when the session turns composition off', async () => {
    const sessionId = await seededSession({ recording: { compose: false, participant_audio: 'none' } });
    const calls = engine.calls.length;
    await stop(sessionId);
    await waitFor(() => readyOf(sessionId).length === 1 || undefined, { timeoutMs: 20000, what: 'recording.ready' });
    expect(readyOf(sessionId)[0].data).not.toHaveProperty('recording');
    expect(engine.calls.length).toBe(calls);
    expect(await ctx.hub.producer.queueFor(JobName.RecordingCompose).getJob(`recording-compose-${sessionId}-auto`)).toBeUndefined();
  });
});

/**
 * The real engine (ffmpeg) behind the production registration: H.264 made by ffmpeg for
 * three speakers, a mixed audio track whose tone starts exactly at a speaker change, and
 * a 2 s stretch at the end with no media at all.
 */
describe('Recording composition with ffmpeg: a playable recording.mp4', () => {
  let receiver: WebhookReceiver;
  let root: string;
  let chromium: HeadlessChromium | undefined;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rtms-compose-ffmpeg-e2e-'));
  });
  afterAll(async () => {
    await chromium?.close();
    await receiver?.close();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const ctx = useE2eContext({
    hub: { api: true, worker: { queues: [QueueName.MediaFrames, QueueName.MediaCompose, QueueName.AppWebhooks], explicit: true } },
    env: () => ({ STORAGE_DRIVER: 'local', STORAGE_LOCAL_DIR: root, COMPOSE_RECORDINGS: 'true', WEBHOOK_ALLOW_PRIVATE_URLS: 'true', COMPOSE_WIDTH: '320', COMPOSE_HEIGHT: '240', COMPOSE_FPS: '25' }),
  });

  it('an ended meeting → one recording.ready whose recording.mp4 ffprobe reads as H.264 + AAC of the meeting length, in sync, Chromium plays it; Opus per participant', async () => {
    await insertWebhookEndpoint(ctx.hub.app, receiver.url(), ['recording.ready']);
    const start = Date.now() - 120_000;
    const sessionId = await insertStreamingSession(ctx.hub, new Date(start), { recording: { compose: true, participant_audio: 'opus' } });
    // Speakers: Ann (red) 0–4 s, Bob (green) 4–8 s, Cid (blue) 8–12 s, in 2 s segments of 50 frames at 25 fps.
    const speakers = [
      ['16778240', 'Ann', 'red'],
      ['16778241', 'Bob', 'green'],
      ['16778242', 'Cid', 'blue'],
    ] as const;
    const frameTs = Array.from({ length: 50 }, (_, i) => i * 40);
    for (let s = 0; s < 3; s++) {
      const [userId, userName, colour] = speakers[s];
      for (let k = 0; k < 2; k++) {
        await seedVideo(ctx.hub, root, sessionId, { userId, userName, firstTs: start + s * 4000 + k * 2000, frameTs, bytes: await h264Segment(colour, 50) });
      }
    }
    // Mixed audio: silence while Ann speaks, then a 1 kHz tone from Bob's first frame (4 s) to 12 s.
    await seedAudio(ctx.hub, root, sessionId, { userId: '0', firstTs: start, pcm: tone(0, 4000), sampleRate: 16000 });
    await seedAudio(ctx.hub, root, sessionId, { userId: '0', firstTs: start + 4000, pcm: tone(1000, 8000), sampleRate: 16000 });
    // Bob's own track too (per_participant audio): his Opus file.
    await seedAudio(ctx.hub, root, sessionId, { userId: '16778241', firstTs: start + 4000, pcm: tone(1000, 4000), sampleRate: 16000 });
    // The meeting lasted 14 s (its last 2 s without media): the session ended then, and its capture-complete check runs.
    await query(ctx.hub.app, `UPDATE sessions SET status = 'stopped', ended_at = $2 WHERE id = $1`, [sessionId, new Date(start + 14_000)]);
    await ctx.hub.producer.enqueue(JobName.RecordingCheck, { sessionId });

    const ready = await waitFor(() => receiver.requests.map((r) => JSON.parse(r.body) as Envelope).filter((e) => e.type === 'recording.ready' && e.data.session_id === sessionId)[0], {
      timeoutMs: 90_000,
      what: 'recording.ready with the composed recording',
    });
    const recording = ready.data.recording as { id: string; bytes: number; duration_ms: number; meta: { gaps: Array<{ from_ts: number; to_ts: number; reason: string }> } };
    expect(recording).toMatchObject({ kind: 'recording', content_type: 'video/mp4' });

    // Download it through the API and let ffprobe judge it.
    const file = path.join(root, 'downloaded.mp4');
    const res = await fetch(`${ctx.hub.baseUrl}/api/v1/artifacts/${recording.id}/content`, { headers: { 'x-api-key': API_KEY } });
    expect(res.status).toBe(200);
    await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
    const probe = await ffprobe(file);
    expect(probe.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    expect(Math.abs(Number(probe.format.duration) * 1000 - 14_000)).toBeLessThanOrEqual(1000);
    expect(Math.abs(recording.duration_ms - 14_000)).toBeLessThanOrEqual(1000);
    expect((await fs.stat(file)).size).toBe(recording.bytes);

    // Sync: the tone starts where the first green frame is shown (±100 ms), 4 s in.
    const onset = toneOnsetMs(toneBlocks(decodeMonoPcm(file), [1000]), 0);
    const colours = frameColours(file);
    const firstGreenMs = colours.indexOf('green') * (1000 / 25);
    expect(onset).toBeGreaterThan(0);
    expect(colours.indexOf('green')).toBeGreaterThan(0);
    expect(Math.abs(onset - firstGreenMs)).toBeLessThanOrEqual(100);
    expect(Math.abs(onset - 4000)).toBeLessThanOrEqual(100);
    // Red, green, blue in turn; the media-less tail is black and reported as a gap.
    expect(colours.indexOf('blue')).toBeGreaterThan(colours.indexOf('green'));
    const tail = colours.slice(Math.ceil(12.5 * 25));
    expect(tail.length).toBeGreaterThan(0);
    expect(tail.every((c) => c === 'black')).toBe(true);
    expect(recording.meta.gaps.some((g) => g.from_ts <= start + 12_100 && g.to_ts >= start + 13_900)).toBe(true);

    // Bob's own audio as Opus in Ogg, over the whole window.
    const [opus] = await query<{ id: string; content_type: string }>(ctx.hub.app, `SELECT id, content_type FROM media_artifacts WHERE session_id = $1 AND kind = 'participant_audio' AND user_id = '16778241'`, [sessionId]);
    expect(opus.content_type).toBe('audio/ogg');
    const ogg = path.join(root, 'bob.ogg');
    await fs.writeFile(ogg, Buffer.from(await (await fetch(`${ctx.hub.baseUrl}/api/v1/artifacts/${opus.id}/content`, { headers: { 'x-api-key': API_KEY } })).arrayBuffer()));
    const oggProbe = await ffprobe(ogg);
    expect(oggProbe.streams.map((st) => st.codec_name)).toEqual(['opus']);
    expect(Math.abs(Number(oggProbe.format.duration) * 1000 - 14_000)).toBeLessThanOrEqual(1000);

    // A browser plays it from the download route (Range requests), reporting its duration and advancing.
    chromium = await launchChromium();
    const context = await chromium.newContext({ extraHTTPHeaders: { 'x-api-key': API_KEY } });
    const page = await context.newPage();
    await page.goto(`${ctx.hub.baseUrl}/health/live`);
    await page.setContent(`<video id="v" muted preload="auto" src="/api/v1/artifacts/${recording.id}/content"></video>`);
    const duration = await page.waitForFunction(VIDEO_DURATION, undefined, { timeout: 20_000 });
    expect(Math.abs(Number(await duration.jsonValue()) * 1000 - 14_000)).toBeLessThanOrEqual(1000);
    await page.evaluate(VIDEO_PLAY);
    await page.waitForFunction(`${VIDEO}.currentTime > 0.5`, undefined, { timeout: 20_000 });
    expect(await page.evaluate(`${VIDEO}.error`)).toBeNull();
  });
});
