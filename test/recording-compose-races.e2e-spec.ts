import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource, QueryRunner } from 'typeorm';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { MediaComposeModule, MediaComposeProcessor } from '../src/modules/media-compose';
import type { ComposeEngine, ComposeInput, ComposeResult } from '../src/modules/media-compose/engine/compose-types';
import type { ParticipantAudioEncoder, ParticipantAudioInput, ParticipantAudioResult } from '../src/modules/media-compose/engine/ffmpeg-compose-engine';
import { RecordingMediaService } from '../src/modules/media-ingest';
import { EventSource, SessionsService, SessionStatus } from '../src/modules/sessions';
import { PROCESSORS } from '../src/worker/processors';
import { insertStreamingSession, seedAudio, seedVideo } from './utils/compose-seed';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY, TEST_KEYS } from './utils/test-app';
import { waitFor } from './utils/wait-for';

/**
 * A test-only engine that can be held mid-composition (as ffmpeg is for minutes), so an
 * erasure, a session deletion or a second composition of the session runs meanwhile.
 * Each call writes different bytes, naming what it was given.
 */
class GatedEngine implements ComposeEngine {
  readonly calls: ComposeInput[] = [];
  private held = false;
  private readonly waiting: Array<() => void> = [];

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    for (const go of this.waiting.splice(0)) go();
  }

  async compose(input: ComposeInput, outFile: string, signal?: AbortSignal): Promise<ComposeResult> {
    this.calls.push(input);
    if (this.held) {
      await new Promise<void>((resolve, reject) => {
        this.waiting.push(resolve);
        signal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
      });
    }
    const body = Buffer.from(`fake-mp4 call${this.calls.length} users ${input.video.map((v) => v.userId).join(',')}`);
    await fs.writeFile(outFile, body);
    return {
      durationMs: input.endTs - input.startTs,
      bytes: body.length,
      video: { codec: 'h264', width: input.output.width, height: input.output.height, fps: input.output.fps },
      audio: { codec: 'aac', sampleRate: 48000, channels: 1 },
      gaps: [],
      cpuMs: 1,
    };
  }
}

class FakeEncoder implements ParticipantAudioEncoder {
  async participantAudio(input: ParticipantAudioInput, outFile: string): Promise<ParticipantAudioResult> {
    const body = Buffer.from(`OggS fake ${input.userId}`);
    await fs.writeFile(outFile, body);
    return { durationMs: input.endTs - input.startTs, bytes: body.length, codec: 'opus', gaps: [], cpuMs: 1 };
  }
}

const T0 = Date.now() - 60_000;
const SECOND_PCM = Buffer.alloc(16000 * 2);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every file under a folder (none when it does not exist). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe('Recording composition racing an erasure, a deletion, another composition', () => {
  let root: string;
  const engine = new GatedEngine();

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rtms-compose-races-'));
  });
  // A test that failed with the engine held must not hold up the next.
  afterEach(() => engine.release());
  afterAll(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const registrations = PROCESSORS.filter((r) => r.queue !== QueueName.MediaCompose).concat({
    queue: QueueName.MediaCompose,
    processor: MediaComposeProcessor,
    handles: [JobName.RecordingCompose],
    imports: [MediaComposeModule.withEngine(engine, new FakeEncoder())],
  });
  const ctx = useE2eContext({
    hub: { api: true, worker: { queues: [QueueName.MediaFrames, QueueName.MediaCompose, QueueName.Maintenance], explicit: true, registrations } },
    // Two compositions per process: nothing but the session's lease keeps two runs of one session apart.
    env: () => ({ STORAGE_DRIVER: 'local', STORAGE_LOCAL_DIR: root, COMPOSE_RECORDINGS: 'true', COMPOSE_WORK_DIR: path.join(root, 'work'), CONCURRENCY_MEDIA_COMPOSE: '2' }),
  });

  async function seededSession(users: [string, string], policy: Record<string, unknown> = {}): Promise<string> {
    const sessionId = await insertStreamingSession(ctx.hub, new Date(T0), policy);
    await seedVideo(ctx.hub, root, sessionId, { userId: users[0], userName: 'Ann', firstTs: T0 + 100, frameTs: [0, 40, 80], bytes: Buffer.from('annexb-1') });
    await seedVideo(ctx.hub, root, sessionId, { userId: users[1], userName: 'Bob', firstTs: T0 + 2000, frameTs: [0, 40, 80], bytes: Buffer.from('annexb-2') });
    await seedAudio(ctx.hub, root, sessionId, { userId: '0', firstTs: T0 + 50, pcm: Buffer.concat([SECOND_PCM, SECOND_PCM]), sampleRate: 16000 });
    return sessionId;
  }

  const stop = (sessionId: string) => ctx.hub.app.get(SessionsService).transition(sessionId, SessionStatus.Stopped, { source: EventSource.Api, stopReason: 6 });
  const composeJob = (sessionId: string, revision: string) => ctx.hub.producer.queueFor(JobName.RecordingCompose).getJob(`recording-compose-${sessionId}-${revision}`);
  const recordingRows = (sessionId: string) =>
    query<{ id: string; sha256: string; bytes: string; meta: { sources: { video_segments: number } } }>(ctx.hub.app, `SELECT id, sha256, bytes, meta FROM media_artifacts WHERE session_id = $1 AND kind = 'recording'`, [sessionId]);
  const readyEvents = async (sessionId: string) =>
    (await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM app_events WHERE session_id = $1 AND type = 'recording.ready'`, [sessionId]))[0].n;
  const composing = (n: number) => waitFor(() => engine.calls.length >= n || undefined, { timeoutMs: 20_000, what: `composition call ${n} in the engine` });

  it('an erasure while the engine runs wins: nothing of the erased person is stored, the retry composes from what is left', async () => {
    const [ann, bob] = ['34000001', '34000002'];
    const sessionId = await seededSession([ann, bob], { recording: { compose: true, participant_audio: 'opus' } });
    await seedAudio(ctx.hub, root, sessionId, { userId: bob, firstTs: T0 + 2000, pcm: SECOND_PCM, sampleRate: 16000 });
    const calls = engine.calls.length;
    engine.hold();
    await stop(sessionId);
    await composing(calls + 1);
    expect(engine.calls[calls].video.map((v) => v.userId)).toEqual([ann, bob]);

    const erasure = await ctx.http().post('/api/v1/erasures').set('x-api-key', API_KEY).send({ zoom_user_id: bob }).expect(202);
    await waitFor(async () => (await ctx.http().get(`/api/v1/erasures/${String(erasure.body.id)}`).set('x-api-key', API_KEY)).body.status === 'completed' || undefined, {
      timeoutMs: 30_000,
      what: 'the erasure to complete',
    });
    engine.release();

    // The first attempt's result is not stored; the retry plans again without Bob.
    await waitFor(async () => (await readyEvents(sessionId)) === 1 || undefined, { timeoutMs: 40_000, what: 'recording.ready' });
    expect(engine.calls.slice(calls).map((c) => c.video.map((v) => v.userId))).toEqual([[ann, bob], [ann]]);
    const [recording] = await recordingRows(sessionId);
    expect(recording.meta.sources.video_segments).toBe(1);
    const object = await fs.readFile(path.join(root, sessionId, 'recording', 'recording.mp4'));
    expect(sha256(object)).toBe(recording.sha256);
    // Bob's own audio file was never stored, row or object.
    expect(await query(ctx.hub.app, `SELECT 1 FROM media_artifacts WHERE session_id = $1 AND user_id = $2`, [sessionId, bob])).toEqual([]);
    expect((await filesUnder(path.join(root, sessionId))).filter((f) => f.includes(bob))).toEqual([]);
    expect((await composeJob(sessionId, 'auto'))?.attemptsMade).toBe(2);
  });

  it('a session deleted while the engine runs: the job ends, and nothing it stored is left behind', async () => {
    const sessionId = await seededSession(['35000001', '35000002'], { recording: { compose: true, participant_audio: 'opus' } });
    await seedAudio(ctx.hub, root, sessionId, { userId: '35000001', firstTs: T0 + 100, pcm: SECOND_PCM, sampleRate: 16000 });
    const calls = engine.calls.length;
    engine.hold();
    await stop(sessionId);
    await composing(calls + 1);

    await ctx.hub.app.get(SessionsService).delete(sessionId);
    expect(await filesUnder(path.join(root, sessionId))).toEqual([]);
    engine.release();

    const done = await waitFor(async () => {
      const job = await composeJob(sessionId, 'auto');
      return job && (await job.isCompleted()) ? job : undefined;
    }, { timeoutMs: 30_000, what: 'the compose job to end' });
    expect(done.returnvalue).toEqual({ status: 'skipped', reason: 'no_session' });
    expect(await filesUnder(path.join(root, sessionId))).toEqual([]);
  });

  it('two compositions of one session never run at once: a re-compose waits for the running one, and row and object agree', async () => {
    const sessionId = await seededSession(['36000001', '36000002']);
    const calls = engine.calls.length;
    engine.hold();
    await stop(sessionId);
    await composing(calls + 1);

    await ctx.http().post(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', TEST_KEYS.operator).expect(202);
    const r1 = await waitFor(async () => {
      const job = await composeJob(sessionId, 'r1');
      return job && (await job.isDelayed()) ? job : undefined;
    }, { timeoutMs: 20_000, what: 'the re-compose to wait for the running composition' });
    expect(r1.attemptsMade).toBe(0);
    expect(engine.calls.length).toBe(calls + 1);

    engine.release();
    await waitFor(async () => (await readyEvents(sessionId)) === 1 || undefined, { timeoutMs: 20_000, what: 'recording.ready of the first composition' });
    await r1.promote();
    await waitFor(async () => (await ctx.http().get(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', TEST_KEYS.reader)).body.state === 'done' || undefined, {
      timeoutMs: 20_000,
      what: 'the re-compose to be done',
    });
    expect(engine.calls.length).toBe(calls + 2);
    const [recording] = await recordingRows(sessionId);
    const object = await fs.readFile(path.join(root, sessionId, 'recording', 'recording.mp4'));
    expect({ sha256: sha256(object), bytes: object.length }).toEqual({ sha256: recording.sha256, bytes: Number(recording.bytes) });
    expect(object.toString()).toContain(`call${calls + 2} `);
    const status = await ctx.http().get(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', TEST_KEYS.reader).expect(200);
    expect(status.body).toMatchObject({ state: 'done', revision: 1, recording: { id: recording.id } });
  });

  it('an older run does not report its state as the newer revision’s', async () => {
    const sessionId = await seededSession(['37000001', '37000002']);
    await stop(sessionId);
    await waitFor(async () => (await readyEvents(sessionId)) === 1 || undefined, { timeoutMs: 20_000, what: 'recording.ready' });
    // Re-compose 3 is asked for and waits; the automatic job runs once more meanwhile (re-queued by the recording-check sweeper, say).
    await query(ctx.hub.app, `UPDATE recording_compositions SET revision = 3, state = 'queued' WHERE session_id = $1`, [sessionId]);
    const calls = engine.calls.length;
    await ctx.hub.producer.requeue(JobName.RecordingCompose, { sessionId, revision: 'auto' });
    await waitFor(async () => {
      const job = await composeJob(sessionId, 'auto');
      return job && engine.calls.length > calls && (await job.isCompleted()) ? job : undefined;
    }, { timeoutMs: 20_000, what: 'the automatic job to run again' });
    const status = await ctx.http().get(`/api/v1/sessions/${sessionId}/recording`).set('x-api-key', TEST_KEYS.reader).expect(200);
    expect(status.body).toMatchObject({ state: 'queued', revision: 3 });
  });

  describe('commitComposed: the rows are written under the session row lock the deleting transactions take', () => {
    const media = () => ctx.hub.app.get(RecordingMediaService);

    /** A session with its sources read, and a composed recording uploaded for it (its row not written yet). */
    async function uploaded(users: [string, string]) {
      const sessionId = await seededSession(users);
      const sources = await media().sources(sessionId);
      const file = path.join(root, `upload-${sessionId}.mp4`);
      await fs.writeFile(file, Buffer.from(`recording of ${sessionId}`));
      const upload = await media().upload(
        { sessionId, rtmsStreamId: 'stream-1', kind: 'recording', userId: '0', userName: null, contentType: 'video/mp4', capturedAt: new Date(T0), durationMs: 1000, meta: {} },
        'mp4',
        file,
      );
      await fs.access(path.join(root, sessionId, 'recording', 'recording.mp4'));
      return { sessionId, read: [...sources.video, ...sources.audio], upload };
    }

    /** Runs `work` in a transaction that holds the session row as `lock` until `work` ends (as an erasure or a deletion does). */
    async function holding(sessionId: string, lock: 'FOR SHARE' | 'FOR NO KEY UPDATE', whileHeld: () => Promise<void>, work: (q: QueryRunner) => Promise<void>): Promise<void> {
      const q = ctx.hub.app.get(DataSource).createQueryRunner();
      await q.connect();
      try {
        await q.startTransaction();
        await q.query(`SELECT 1 FROM sessions WHERE id = $1 ${lock}`, [sessionId]);
        await whileHeld();
        await work(q);
        await q.commitTransaction();
      } finally {
        await q.release();
      }
    }

    it('an erasure in progress is waited for; the source it deletes means nothing is stored and the upload is taken back', async () => {
      const { sessionId, read, upload } = await uploaded(['38000001', '38000002']);
      let commit!: ReturnType<RecordingMediaService['commitComposed']>;
      let settled = false;
      await holding(
        sessionId,
        'FOR SHARE',
        async () => {
          commit = media().commitComposed(sessionId, read, [upload]);
          void commit.finally(() => (settled = true));
          await new Promise((r) => setTimeout(r, 500));
          expect(settled).toBe(false);
        },
        async (q) => void (await q.query(`DELETE FROM media_artifacts WHERE session_id = $1 AND user_id = '38000002'`, [sessionId])),
      );
      await expect(commit).resolves.toEqual({ status: 'sources_changed', changed: 1 });
      expect(await recordingRows(sessionId)).toEqual([]);
      await expect(fs.access(path.join(root, sessionId, 'recording', 'recording.mp4'))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('a deletion in progress is waited for; the session gone, its composed folder is emptied', async () => {
      const { sessionId, read, upload } = await uploaded(['39000001', '39000002']);
      let commit!: ReturnType<RecordingMediaService['commitComposed']>;
      await holding(
        sessionId,
        'FOR NO KEY UPDATE',
        async () => {
          commit = media().commitComposed(sessionId, read, [upload]);
          await new Promise((r) => setTimeout(r, 300));
        },
        async (q) => void (await q.query(`DELETE FROM sessions WHERE id = $1`, [sessionId])),
      );
      await expect(commit).resolves.toEqual({ status: 'session_gone' });
      expect(await filesUnder(path.join(root, sessionId, 'recording'))).toEqual([]);
    });

    it('with nothing in its way it stores, row and object agreeing', async () => {
      const { sessionId, read, upload } = await uploaded(['40000001', '40000002']);
      const committed = await media().commitComposed(sessionId, read, [upload]);
      expect(committed).toMatchObject({ status: 'stored', artifacts: [{ kind: 'recording', storage_key: upload.storageKey, sha256: upload.sha256 }] });
    });
  });
});
