import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import S3rver from '@20minutes/s3rver';
import { JobName } from '../src/jobs/job-names';
import type { MediaBatchPayload, MediaItem } from '../src/jobs/job-payloads';
import { QueueName } from '../src/jobs/queue-names';
import { MEDIA_STORAGE, MediaStorage } from '../src/modules/media-ingest/storage/media-storage';
import { RetentionSweepService } from '../src/modules/retention/sweep/retention-sweep.service';
import { RetentionStatsStore } from '../src/modules/retention/sweep/retention-stats';
import type { MediaKind } from '../src/simulator/protocol';
import { videoFrame } from '../src/simulator/media';
import { createSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY, TEST_KEYS, TestApp } from './utils/test-app';
import { waitFor, waitForQueuesIdle } from './utils/wait-for';

/**
 * The retention sweep end to end (docs/retention.md), once on local storage and once on
 * S3 (s3rver): a simulated meeting's media, transcript and events disappear on schedule
 * (each only once its age passes the policy), held sessions stay until released, a purge
 * killed halfway resumes and leaves nothing orphaned, and two sweepers never double-delete.
 * Sessions set their retention in seconds through their capture policy, so the sweep
 * leaves the other files' sessions in the shared database alone.
 */
const days = (seconds: number) => seconds / 86400;
const MEDIA_KINDS = ['video_frame', 'share_frame', 'audio_segment'];
const MEDIA_FOLDERS = ['video', 'deskshare', 'audio'];
const T0 = 1_750_690_000_000;

interface DeletionRow {
  categories: string[];
  objects_deleted: number;
  bytes_deleted: string;
  rows_deleted: Record<string, number>;
  reason: string;
  actor: string;
  details: Record<string, unknown>;
  created_at: Date;
}

function suite(driver: 'local' | 's3') {
  describe(`retention sweep (${driver} storage)`, () => {
    let root: string;
    let s3: S3rver | null = null;
    let listKeys: (prefix: string) => Promise<string[]>;
    const env: Record<string, string> = {};

    beforeAll(async () => {
      root = await fs.mkdtemp(path.join(os.tmpdir(), `retention-${driver}-`));
      Object.assign(env, {
        STORAGE_LOCAL_DIR: root,
        RETENTION_SWEEP_INTERVAL_SEC: '1',
        RETENTION_SWEEP_BATCH_SIZE: '5',
        AUDIO_SEGMENT_IDLE_FINALIZE_MS: '800',
        MEDIA_BATCH_FLUSH_MS: '50',
        JOB_BACKOFF_MS: '50',
      });
      if (driver === 's3') {
        s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: root, configureBuckets: [{ name: 'retention-test' }], allowMismatchedSignatures: true });
        const addr = await s3.run();
        Object.assign(env, { STORAGE_DRIVER: 's3', S3_BUCKET: 'retention-test', S3_PREFIX: 'hub', S3_ENDPOINT: `http://127.0.0.1:${addr.port}`, S3_FORCE_PATH_STYLE: 'true', S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' });
        // What the S3 server really holds (its files on disk), not what the hub believes.
        const prefixDir = path.join(root, 'retention-test', 'hub');
        listKeys = async (prefix) => {
          const entries = await fs.readdir(path.join(prefixDir, prefix), { recursive: true, withFileTypes: true }).catch(() => []);
          return entries.filter((e) => e.isFile() && e.name.endsWith('._S3rver_object')).map((e) => path.relative(prefixDir, path.join(e.parentPath, e.name)).replace(/\._S3rver_object$/, ''));
        };
      } else {
        listKeys = async (prefix) => {
          const entries = await fs.readdir(path.join(root, prefix), { recursive: true, withFileTypes: true }).catch(() => []);
          return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name)));
        };
      }
    });

    const ctx = useE2eContext({
      simulator: { speed: 4, videoScale: 0.25 },
      hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams, QueueName.MediaFrames, QueueName.Maintenance], explicit: true } },
      env: () => env,
    });

    afterAll(async () => {
      if (s3) await s3.close();
      if (root) await fs.rm(root, { recursive: true, force: true });
    });

    const api = () => ctx.http();
    const count = async (sql: string, params: unknown[]) => Number((await query<{ n: string }>(ctx.hub.app, `SELECT count(*)::text AS n FROM ${sql}`, params))[0].n);
    const mediaRows = async (id: string) =>
      (await count(`media_artifacts WHERE session_id = $1 AND kind = ANY($2::varchar[])`, [id, MEDIA_KINDS])) + (await count(`audio_segments WHERE session_id = $1`, [id]));
    const transcriptRows = async (id: string) => (await count(`transcript_segments WHERE session_id = $1`, [id])) + (await count(`media_artifacts WHERE session_id = $1 AND kind = 'chat'`, [id]));
    const eventRows = async (id: string) => (await count(`session_events WHERE session_id = $1`, [id])) + (await count(`participants WHERE session_id = $1`, [id]));
    const mediaKeys = async (id: string) => (await Promise.all(MEDIA_FOLDERS.map((f) => listKeys(`${id}/${f}`)))).flat();
    const stored = async (id: string, kinds: string[]) =>
      (await query<{ n: number; bytes: string }>(ctx.hub.app, `SELECT count(*)::int AS n, coalesce(sum(bytes), 0)::text AS bytes FROM media_artifacts WHERE session_id = $1 AND kind = ANY($2::varchar[])`, [id, kinds]))[0];
    const deletions = (id: string) =>
      query<DeletionRow>(ctx.hub.app, `SELECT categories, objects_deleted, bytes_deleted, rows_deleted, reason, actor, details, created_at FROM deletion_log WHERE session_id = $1 ORDER BY created_at, id`, [id]);
    /** Every stored key of the session has its row and every row its object. */
    async function expectNoOrphans(id: string): Promise<void> {
      const rows = await query<{ storage_key: string }>(ctx.hub.app, `SELECT storage_key FROM media_artifacts WHERE session_id = $1`, [id]);
      expect((await listKeys(id)).sort()).toEqual(rows.map((r) => r.storage_key).sort());
    }
    /** One sample of a Prometheus metric from the hub's /metrics (the sweep runs there). */
    async function metric(name: string): Promise<number | undefined> {
      const text = (await api().get('/metrics').set('x-api-key', API_KEY).expect(200)).text;
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.slice(name.length + 1));
    }
    /** Resolves once `n` sweeps have finished after now (their stats are in Redis). */
    async function sweepsFinished(n: number, app: TestApp = ctx.hub): Promise<void> {
      const store = app.app.get(RetentionStatsStore);
      for (let i = 0; i < n; i++) {
        const since = Date.now();
        await waitFor(async () => {
          const last = await store.last();
          return last?.finishedAt && Date.parse(last.finishedAt) > since;
        }, { timeoutMs: 15000, what: 'a retention sweep to finish' });
      }
    }

    /** Stores frames, transcript lines and chat for a session by queuing the savers' jobs, as a stream worker would. */
    async function storeMedia(sessionId: string, frames: number, lines: number, chats: number): Promise<void> {
      const stream = `retention-${driver}-${sessionId}`;
      const enqueue = (name: JobName.FrameSave | JobName.TranscriptSave | JobName.ChatSave, items: MediaItem[]) =>
        ctx.hub.producer.enqueue(name, { streams: [{ sessionId, rtmsStreamId: stream, items }] } as MediaBatchPayload);
      const receivedAt = Date.now();
      await enqueue(JobName.FrameSave, Array.from({ length: frames }, (_, i) => ({ msgType: 15, userId: 101, userName: 'Ann', timestamp: T0 + i * 1000, data: videoFrame(101, i, { width: 32, height: 18 }, 5, false).base64, receivedAt })));
      await enqueue(JobName.TranscriptSave, Array.from({ length: lines }, (_, i) => ({ msgType: 17, userId: 101, userName: 'Ann', timestamp: T0 + i * 1000 + 900, data: `line ${i}`, meta: { start_time: T0 + i * 1000, end_time: T0 + i * 1000 + 900, language: 9, attribute: 1 }, receivedAt })));
      await enqueue(JobName.ChatSave, Array.from({ length: chats }, (_, i) => ({ msgType: 18, userId: 101, userName: 'Ann', timestamp: T0 + i * 1000 + 500, data: `chat ${i}`, receivedAt })));
      await waitFor(async () => (await mediaRows(sessionId)) === frames && (await transcriptRows(sessionId)) === lines + chats, { timeoutMs: 20000, what: 'the saved media' });
      await waitForQueuesIdle([ctx.hub.producer.queue(QueueName.MediaFrames)]);
    }

    /** A session that never streams (its retention clock starts at creation), held at once so the sweep waits for the test. */
    async function heldSession(retentionSeconds: number): Promise<string> {
      const { id } = await createSession(ctx.hub, {
        meetingId: '85550000001',
        capturePolicy: { retention: { media_days: days(retentionSeconds), transcript_days: days(retentionSeconds), events_days: days(retentionSeconds) } },
      });
      await api().post(`/api/v1/sessions/${id}/hold`).set('x-api-key', API_KEY).send({ reason: 'test setup' }).expect(200);
      return id;
    }

    it('purges a meeting’s media, then its transcript and chat, then its events and the session, each once its age passes the policy', async () => {
      const MEDIA_S = 6;
      const TRANSCRIPT_S = 10;
      const EVENTS_S = 14;
      const meeting = ctx.sim.createMeeting({ participants: [{ userId: 101, name: 'Ann', joinAtMs: Infinity }, { userId: 102, name: 'Bob', joinAtMs: Infinity }] });
      const { id } = await createSession(ctx.hub, {
        meetingId: meeting.id,
        capturePolicy: {
          media_types: ['audio', 'video', 'transcript', 'chat'],
          video: { interval_ms: 500, max_frames_per_user: 4 },
          audio: { mode: 'per_participant', segment_seconds: 1 },
          retention: { media_days: days(MEDIA_S), transcript_days: days(TRANSCRIPT_S), events_days: days(EVENTS_S) },
        },
      });
      const stream = await ctx.sim.startRtms(meeting.id);
      const live = ctx.sim.meeting(meeting.id)!;
      const simStream = ctx.sim.stream(stream.streamId)!;
      await waitFor(
        () => {
          const flowing = new Set<MediaKind>([...simStream.media.values()].filter((c) => c.active).flatMap((c) => c.kinds));
          return (['audio', 'video', 'transcript', 'chat'] as MediaKind[]).every((k) => flowing.has(k));
        },
        { timeoutMs: 20000, what: 'the hub to receive every kind of media' },
      );
      const t0 = live.now();
      Object.assign(live.find(101)!, { joinAtMs: t0, speaks: [{ atMs: t0 + 1000, text: 'Hello retention.', durationMs: 1500 }], chat: [{ atMs: t0 + 1500, text: 'hi' }] });
      Object.assign(live.find(102)!, { joinAtMs: t0, speaks: [{ atMs: t0 + 3500, text: 'Goodbye retention.', durationMs: 1500 }], chat: [{ atMs: t0 + 4000, text: 'bye' }] });
      await waitFor(() => live.now() >= t0 + 7000, { timeoutMs: 20000, what: 'the end of the script' });
      ctx.sim.endMeeting(meeting.id);
      await waitFor(async () => ((await ctx.hub.producer.queueFor(JobName.StreamRun).getJob(stream.streamId))?.finishedOn ? true : undefined), { timeoutMs: 20000, what: 'the stream job to finish' });
      await waitFor(
        async () => {
          await waitForQueuesIdle([ctx.hub.producer.queue(QueueName.MediaFrames)], { timeoutMs: 15000 });
          return (await count(`audio_segments WHERE session_id = $1 AND status = 'open'`, [id])) === 0;
        },
        { timeoutMs: 15000, what: 'savers drained and audio segments written' },
      );

      const session = (await api().get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY).expect(200)).body as { status: string; ended_at: string; legal_hold: unknown };
      expect(session.status).toBe('stopped');
      expect(session.legal_hold).toBeNull();
      const endedAt = Date.parse(session.ended_at);
      const media = await stored(id, MEDIA_KINDS);
      const chat = await stored(id, ['chat']);
      const lines = await count(`transcript_segments WHERE session_id = $1`, [id]);
      const audioSegments = await count(`audio_segments WHERE session_id = $1`, [id]);
      const events = await count(`session_events WHERE session_id = $1`, [id]);
      const participants = await count(`participants WHERE session_id = $1`, [id]);
      expect(media.n).toBeGreaterThan(4);
      expect(chat.n).toBe(2);
      expect(lines).toBeGreaterThan(0);
      expect(events).toBeGreaterThan(0);
      expect(participants).toBe(2);
      expect((await mediaKeys(id)).length).toBe(media.n);
      await expectNoOrphans(id);

      // Media first, only once its age passes MEDIA_S (the transcript is still there).
      const logged = (n: number) => async () => (await deletions(id)).length >= n;
      await waitFor(logged(1), { timeoutMs: 30000, what: 'the media to be purged' });
      expect(await mediaRows(id)).toBe(0);
      expect(await mediaKeys(id)).toEqual([]);
      expect(await transcriptRows(id)).toBe(lines + 2);
      expect((await listKeys(`${id}/chat`)).length).toBe(2);
      const [mediaEntry] = await deletions(id);
      expect(mediaEntry.categories).toEqual(['media']);
      expect(mediaEntry.created_at.getTime()).toBeGreaterThanOrEqual(endedAt + MEDIA_S * 1000);
      expect(mediaEntry).toMatchObject({ reason: 'retention', actor: 'system', objects_deleted: media.n, bytes_deleted: media.bytes });
      expect(mediaEntry.rows_deleted).toEqual({ media_artifacts: media.n, audio_segments: audioSegments, ...(audioSegments ? { audio_parts: expect.any(Number) } : {}) });
      expect(mediaEntry.details).toMatchObject({ policy_days: days(MEDIA_S), policy_source: 'session', cut_off: new Date(endedAt + MEDIA_S * 1000).toISOString() });

      // Then the transcript and chat (the events are still there).
      await waitFor(logged(2), { timeoutMs: 30000, what: 'the transcript to be purged' });
      expect(await transcriptRows(id)).toBe(0);
      expect(await listKeys(`${id}/chat`)).toEqual([]);
      expect(await count(`participants WHERE session_id = $1`, [id])).toBe(2);
      const transcriptEntry = (await deletions(id))[1];
      expect(transcriptEntry.categories).toEqual(['transcript']);
      expect(transcriptEntry.created_at.getTime()).toBeGreaterThanOrEqual(endedAt + TRANSCRIPT_S * 1000);
      expect(transcriptEntry).toMatchObject({ objects_deleted: 2, bytes_deleted: chat.bytes, rows_deleted: { transcript_segments: lines, media_artifacts: 2 } });

      // Last the events, and with all three expired the session row; the deletion log outlives it.
      await waitFor(async () => (await api().get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY)).status === 404, { timeoutMs: 30000, what: 'the session to be purged' });
      const all = await deletions(id);
      expect(all.map((d) => d.categories)).toEqual([['media'], ['transcript'], ['events', 'session']]);
      expect(all[2].created_at.getTime()).toBeGreaterThanOrEqual(endedAt + EVENTS_S * 1000);
      expect(all[2].rows_deleted).toMatchObject({ participants: 2, sessions: 1, session_events: expect.any(Number) });
      expect(all[2].rows_deleted.session_events).toBeGreaterThanOrEqual(events);
      expect(await eventRows(id)).toBe(0);
      expect(await listKeys(id)).toEqual([]);
      expect(await count(`retention_purges WHERE session_id = $1`, [id])).toBe(0);
    }, 120_000);

    it('never purges a held session, and purges it once the hold is released', async () => {
      const id = await heldSession(2);
      await storeMedia(id, 6, 3, 2);
      const hold = (await api().get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY).expect(200)).body.legal_hold as Record<string, unknown>;
      expect(hold).toMatchObject({ reason: 'test setup', placed_by: expect.any(String) });
      expect(Date.parse(hold.placed_at as string)).not.toBeNaN();
      // A held session cannot be deleted either.
      expect((await api().delete(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY).expect(409)).body.error).toBe('session_on_legal_hold');
      // Only admin keys place or release holds; bad input changes nothing.
      await api().delete(`/api/v1/sessions/${id}/hold`).set('x-api-key', TEST_KEYS.operator).expect(403);
      // An owner-scoped admin key does not see another owner's session.
      await api().delete(`/api/v1/sessions/${id}/hold`).set('x-api-key', TEST_KEYS.tenantB).expect(404);
      await api().post(`/api/v1/sessions/${id}/hold`).set('x-api-key', API_KEY).send({ reason: 'x'.repeat(513) }).expect(400);
      await api().post(`/api/v1/sessions/00000000-0000-4000-8000-000000000000/hold`).set('x-api-key', API_KEY).send({}).expect(404);

      // Well past its retention, sweeps come and go and leave it alone.
      await waitFor(async () => Date.now() > Date.parse((await api().get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY)).body.created_at as string) + 2000, { what: 'the retention to run out' });
      await sweepsFinished(2);
      expect(await mediaRows(id)).toBe(6);
      expect(await transcriptRows(id)).toBe(5);
      expect((await listKeys(id)).length).toBe(8);
      expect(await deletions(id)).toEqual([]);

      const released = (await api().delete(`/api/v1/sessions/${id}/hold`).set('x-api-key', API_KEY).expect(200)).body as { legal_hold: unknown };
      expect(released.legal_hold).toBeNull();
      await waitFor(async () => (await api().get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY)).status === 404, { timeoutMs: 20000, what: 'the released session to be purged' });
      expect((await deletions(id)).map((d) => d.categories)).toEqual([['media'], ['transcript'], ['events', 'session']]);
      expect(await listKeys(id)).toEqual([]);
    }, 60_000);

    it('purges a session that never streamed from its creation on, logging only what there was: its events and the row', async () => {
      const { id } = await createSession(ctx.hub, { meetingId: '85550000002', capturePolicy: { retention: { media_days: days(1), transcript_days: days(1), events_days: days(2) } } });
      const createdAt = Date.parse((await api().get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY).expect(200)).body.created_at as string);
      await waitFor(async () => (await api().get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY)).status === 404, { timeoutMs: 20000, what: 'the unused session to be purged' });
      const entries = await deletions(id);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ categories: ['events', 'session'], objects_deleted: 0, rows_deleted: { session_events: 1, sessions: 1 } });
      expect(entries[0].created_at.getTime()).toBeGreaterThanOrEqual(createdAt + 2000);
    }, 30_000);

    it('records the stray objects a purge deletes, in its objects and bytes, even when no row went with them', async () => {
      const { id } = await createSession(ctx.hub, { meetingId: '85550000003', capturePolicy: { retention: { media_days: days(1), transcript_days: 1, events_days: 1 } } });
      // A frame whose save was killed between its write and its row.
      const key = `${id}/video/Ann_101/${T0}.jpg`;
      await ctx.hub.app.get<MediaStorage>(MEDIA_STORAGE, { strict: false }).put(key, Buffer.from('a frame with no row'), 'image/jpeg');
      const [entry] = await waitFor(async () => ((await deletions(id)).length > 0 ? deletions(id) : undefined), { timeoutMs: 20000, what: 'the media purge to be logged' });
      expect(entry).toMatchObject({ categories: ['media'], objects_deleted: 1, bytes_deleted: String('a frame with no row'.length), rows_deleted: {}, details: { stray_objects_deleted: 1 } });
      expect(await listKeys(id)).toEqual([]);
      expect((await api().get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY).expect(200)).body.id).toBe(id);
    }, 30_000);

    it('resumes a purge killed halfway and finishes with nothing orphaned and the counts adding up', async () => {
      const id = await heldSession(1);
      await storeMedia(id, 12, 2, 1);
      const media = await stored(id, MEDIA_KINDS);
      const storage = ctx.hub.app.get<MediaStorage>(MEDIA_STORAGE);
      const realDelete = storage.delete.bind(storage);
      // The storage "dies" after 7 deletes of this session's objects: the second batch (of 5) fails halfway.
      let deletes = 0;
      storage.delete = async (key: string) => {
        if (key.startsWith(`${id}/`) && ++deletes > 7) throw Object.assign(new Error('storage went away (test)'), { code: 'ECONNRESET' });
        return realDelete(key);
      };
      try {
        const failedBefore = (await ctx.hub.producer.queue(QueueName.Maintenance).getJobCounts('failed')).failed;
        await api().delete(`/api/v1/sessions/${id}/hold`).set('x-api-key', API_KEY).expect(200);
        await waitFor(async () => (await ctx.hub.producer.queue(QueueName.Maintenance).getJobCounts('failed')).failed > failedBefore, { timeoutMs: 15000, what: 'the sweep to fail' });
        // Halfway: the first batch is gone and counted; the failed batch rolled back (its rows stay, two of its objects are gone).
        expect(await mediaRows(id)).toBe(7);
        expect((await mediaKeys(id)).length).toBe(5);
        expect(await query(ctx.hub.app, `SELECT category, objects_deleted FROM retention_purges WHERE session_id = $1`, [id])).toEqual([{ category: 'media', objects_deleted: 5 }]);
        expect(await deletions(id)).toEqual([]);
        // The metrics say so: the last sweep failed, and expired media has been waiting.
        await waitFor(async () => (await metric('rtms_hub_retention_last_run_success')) === 0, { what: 'the failed sweep in the metrics' });
        await waitFor(async () => ((await metric('rtms_hub_retention_overdue_seconds{category="media"}')) ?? 0) > 0, { what: 'overdue media in the metrics' });
      } finally {
        storage.delete = realDelete;
      }
      // The next sweeps resume and finish.
      await waitFor(async () => (await api().get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY)).status === 404, { timeoutMs: 20000, what: 'the purge to resume and finish' });
      const all = await deletions(id);
      expect(all.map((d) => d.categories)).toEqual([['media'], ['transcript'], ['events', 'session']]);
      expect(all[0]).toMatchObject({ objects_deleted: 12, bytes_deleted: media.bytes, rows_deleted: { media_artifacts: 12 } });
      expect(all[1]).toMatchObject({ objects_deleted: 1, rows_deleted: { transcript_segments: 2, media_artifacts: 1 } });
      // Nothing orphaned in either direction: no object left, and no row (the session's rows went with it).
      expect(await listKeys(id)).toEqual([]);
      expect(await count(`media_artifacts WHERE session_id = $1`, [id])).toBe(0);
      expect(await count(`retention_purges WHERE session_id = $1`, [id])).toBe(0);
      await waitFor(async () => (await metric('rtms_hub_retention_last_run_success')) === 1, { what: 'a successful sweep in the metrics' });
      await waitFor(async () => (await metric('rtms_hub_retention_overdue_seconds{category="media"}')) === 0, { what: 'nothing overdue in the metrics' });
      expect(await metric('rtms_hub_retention_last_run_duration_seconds')).toBeGreaterThanOrEqual(0);
      expect(await metric('rtms_hub_retention_stored_objects{category="media"}')).toBeGreaterThanOrEqual(0);
    }, 60_000);

    it('lets two workers sweep at once without double deletes: one deletion_log entry per session and category, counts adding up', async () => {
      const second = await ctx.startApp({ api: false, worker: { queues: [QueueName.Maintenance], explicit: true } });
      const ids = [await heldSession(1), await heldSession(1), await heldSession(1)];
      const expected = new Map<string, { media: number; bytes: string; chat: number }>();
      for (const id of ids) {
        await storeMedia(id, 11, 3, 2);
        const m = await stored(id, MEDIA_KINDS);
        expected.set(id, { media: m.n, bytes: m.bytes, chat: 2 });
      }
      for (const id of ids) await api().delete(`/api/v1/sessions/${id}/hold`).set('x-api-key', API_KEY).expect(200);
      // Both workers' schedules run, and on top both purge every session at the same time, bypassing the lease.
      const sweepers = [ctx.hub.app.get(RetentionSweepService), second.app.get(RetentionSweepService)];
      const both = await Promise.all(sweepers.map((s) => s.sweep()));
      expect(both.filter((r) => r.skipped === undefined).length).toBeLessThanOrEqual(1);
      await Promise.all(
        ids.flatMap((id) => sweepers.flatMap((s) => (['media', 'transcript', 'events'] as const).map((c) => s.purgeSession(id, c)))),
      );
      for (const id of ids) {
        await waitFor(async () => (await api().get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY)).status === 404, { timeoutMs: 20000, what: 'every session to be purged' });
        const entries = await deletions(id);
        expect(entries.map((d) => d.categories[0]).sort()).toEqual(['events', 'media', 'transcript']);
        expect(entries.filter((d) => d.categories.includes('session'))).toHaveLength(1);
        const byCategory = Object.fromEntries(entries.map((d) => [d.categories[0], d]));
        const want = expected.get(id)!;
        expect(byCategory.media).toMatchObject({ objects_deleted: want.media, bytes_deleted: want.bytes, rows_deleted: { media_artifacts: want.media } });
        expect(byCategory.transcript).toMatchObject({ objects_deleted: want.chat, rows_deleted: { media_artifacts: want.chat, transcript_segments: 3 } });
        expect(await listKeys(id)).toEqual([]);
      }
      await ctx.stopApp(second);
    }, 60_000);
  });
}

suite('local');
suite('s3');
