import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import S3rver from '@20minutes/s3rver';
import { DataSource } from 'typeorm';
import { keyFingerprint } from '../src/config/api-keys';
import { QueueName } from '../src/jobs/queue-names';
import { DeletionLogService, DeletionReason } from '../src/modules/deletion-log';
import { MediaSaverService } from '../src/modules/media-ingest/savers/media-saver.service';
import { buildMediaKey } from '../src/modules/media-ingest/storage/media-key';
import { MEDIA_STORAGE, MediaStorage } from '../src/modules/media-ingest/storage/media-storage';
import { S3MediaStorage } from '../src/modules/media-ingest/storage/s3-media-storage';
import { createSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY, TEST_KEYS } from './utils/test-app';
import { waitFor } from './utils/wait-for';

interface DeletionView {
  id: string;
  reason: string;
  session_id: string | null;
  rtms_stream_id: string | null;
  categories: string[];
  objects_deleted: number;
  bytes_deleted: number;
  rows_deleted: Record<string, number>;
  actor: string;
  api_key_fingerprint: string | null;
  details: Record<string, unknown>;
  created_at: string;
}

/**
 * The deletion log (issue 18's audit trail): append-only in the database, written by a
 * session delete (API) and a revoked stream's purge (Zoom's rtms_stopped with reason 8,
 * through the simulator), listed by GET /api/v1/deletions with filters, keyset pages
 * and owner scoping.
 */
describe('Deletion log', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'deletion-log-'));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  // Zoom events and the media purge run here (the purge is what a revoked stream queues).
  const ctx = useE2eContext({
    simulator: {},
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.MediaFrames], explicit: true } },
    env: () => ({ STORAGE_DRIVER: 'local', STORAGE_LOCAL_DIR: root }),
  });
  const get = <T>(cls: abstract new (...args: never[]) => T): T => ctx.hub.app.get(cls, { strict: false });
  const storage = () => ctx.hub.app.get<MediaStorage>(MEDIA_STORAGE);
  const api = (url: string, key: string = API_KEY) => ctx.http().get(`/api/v1${url}`).set('x-api-key', key);

  const deletionsOf = (sessionId: string) =>
    query<{ id: string; reason: string; actor: string; api_key_fingerprint: string | null; owner: string | null; objects_deleted: number; bytes_deleted: string; rows_deleted: Record<string, number> }>(
      ctx.hub.app,
      `SELECT id, reason, actor, api_key_fingerprint, owner, objects_deleted, bytes_deleted::text, rows_deleted FROM deletion_log WHERE session_id = $1 ORDER BY created_at`,
      [sessionId],
    );

  /** Every page of a list, following next_cursor. */
  async function allPages(url: string, key: string = API_KEY): Promise<{ pages: DeletionView[][] }> {
    const pages: DeletionView[][] = [];
    let cursor: string | null = null;
    do {
      const res = await api(`${url}${cursor ? `&cursor=${cursor}` : ''}`, key).expect(200);
      pages.push(res.body.data as DeletionView[]);
      cursor = res.body.next_cursor as string | null;
    } while (cursor);
    return { pages };
  }

  /** A stored object and its artifact row, as the savers leave them. */
  async function storeArtifact(sessionId: string, rtmsStreamId: string, name: number, body: Buffer): Promise<number> {
    const key = buildMediaKey({ sessionId, kind: 'video_frame', userId: 7, userName: 'Ann', name, ext: 'jpg' });
    const put = await storage().put(key, body, 'image/jpeg');
    await get(MediaSaverService).upsertArtifacts(get(DataSource).manager, [
      { sessionId, rtmsStreamId, kind: 'video_frame', userId: '7', userName: 'Ann', storageKey: key, contentType: 'image/jpeg', bytes: put.bytes, sha256: put.sha256, capturedAt: new Date(name), durationMs: null, meta: {} },
    ]);
    return put.bytes;
  }

  const transcripts = (sessionId: string, rtmsStreamId: string, n: number) => ({
    streams: [
      {
        sessionId,
        rtmsStreamId,
        items: Array.from({ length: n }, (_, i) => ({ msgType: 17, userId: 7, userName: 'Ann', timestamp: 1000 * (i + 1), data: `line ${i}`, meta: { start_time: 1000 * (i + 1), end_time: 1000 * (i + 1) + 500 }, receivedAt: Date.now() })),
      },
    ],
  });

  it('refuses UPDATE and DELETE on deletion_log (the append-only trigger)', async () => {
    const entry = await get(DeletionLogService).record(
      { reason: DeletionReason.Retention, sessionId: null, categories: ['media'], objectsDeleted: 1, bytesDeleted: 10, rowsDeleted: {} },
      get(DataSource).manager,
    );
    await expect(query(ctx.hub.app, `UPDATE deletion_log SET bytes_deleted = 0 WHERE id = $1`, [entry.id])).rejects.toThrow(/append-only \(UPDATE refused\)/);
    await expect(query(ctx.hub.app, `DELETE FROM deletion_log WHERE id = $1`, [entry.id])).rejects.toThrow(/append-only \(DELETE refused\)/);
    expect(await query(ctx.hub.app, `SELECT bytes_deleted::int AS b FROM deletion_log WHERE id = $1`, [entry.id])).toEqual([{ b: 10 }]);
  });

  it('a session delete writes exactly one row (key fingerprint, owner, objects, bytes, rows per table) and a media.deleted carrying its id', async () => {
    // tenant-b: an owner-scoped admin key; the session carries its owner tag.
    const session = await createSession(ctx.hub, { meetingId: '81234567091' }, TEST_KEYS.tenantB);
    const stream = `del-${randomUUID()}`;
    await query(ctx.hub.app, `INSERT INTO rtms_streams (rtms_stream_id, session_id, server_urls, status) VALUES ($1, $2, 'wss://x', 'stopped')`, [stream, session.id]);
    await query(ctx.hub.app, `INSERT INTO participants (session_id, zoom_user_id, user_name) VALUES ($1, '7', 'Ann'), ($1, '8', 'Bob')`, [session.id]);
    const bytes = (await storeArtifact(session.id, stream, 1000, Buffer.alloc(1234, 1))) + (await storeArtifact(session.id, stream, 2000, Buffer.alloc(99, 2)));
    // An object with no row yet (written just before a crash) is deleted and counted too.
    await storage().put(`${session.id}/chat/x/orphan.json`, Buffer.from('{"a":1}'), 'application/json');
    expect(await get(MediaSaverService).saveTranscripts(transcripts(session.id, stream, 3))).toBe(3);
    const [{ n: events }] = await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM session_events WHERE session_id = $1`, [session.id]);
    // session.created and the three transcript.segment app events go with the session (no webhook endpoint here: no messages).
    const [{ n: appEvents }] = await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM app_events WHERE session_id = $1`, [session.id]);
    expect(appEvents).toBe(4);

    // A refused delete (tenant-a's key: another owner, and only a control key) logs nothing.
    await ctx.http().delete(`/api/v1/sessions/${session.id}`).set('x-api-key', TEST_KEYS.tenantA).expect(403);
    expect(await deletionsOf(session.id)).toEqual([]);

    await ctx.http().delete(`/api/v1/sessions/${session.id}`).set('x-api-key', TEST_KEYS.tenantB).expect(204);
    await ctx.http().delete(`/api/v1/sessions/${session.id}`).set('x-api-key', TEST_KEYS.tenantB).expect(404);

    const rows = await deletionsOf(session.id);
    expect(rows).toEqual([
      {
        id: expect.any(String),
        reason: 'session_deleted',
        actor: 'api_key',
        api_key_fingerprint: keyFingerprint(TEST_KEYS.tenantB),
        owner: 'tenant-b',
        objects_deleted: 3,
        bytes_deleted: String(bytes + 7),
        rows_deleted: {
          sessions: 1,
          rtms_streams: 1,
          session_events: events,
          participants: 2,
          media_artifacts: 2,
          transcript_segments: 3,
          audio_segments: 0,
          audio_parts: 0,
          recording_completions: 0,
          rtms_control_requests: 0,
          app_events: appEvents,
        },
      },
    ]);
    expect(events).toBeGreaterThanOrEqual(1);

    const announced = await query<{ data: Record<string, unknown> }>(ctx.hub.app, `SELECT data FROM app_events WHERE session_id = $1 AND type = 'media.deleted'`, [session.id]);
    expect(announced.map((e) => e.data)).toEqual([
      {
        session_id: session.id,
        sequence: expect.any(Number),
        reason: 'session_deleted',
        rtms_stream_id: null,
        artifacts_deleted: 3,
        deletion_id: rows[0].id,
        erasure_id: null,
        categories: ['media', 'transcript', 'chat', 'events', 'participants', 'session'],
        bytes_deleted: bytes + 7,
      },
    ]);

    // The API view of the same row, for its owner's key and for an unscoped one; another owner's key never sees it.
    const view = (await api(`/deletions/${rows[0].id}`, TEST_KEYS.tenantB).expect(200)).body as DeletionView;
    expect(view).toMatchObject({ id: rows[0].id, reason: 'session_deleted', session_id: session.id, objects_deleted: 3, bytes_deleted: bytes + 7, api_key_fingerprint: keyFingerprint(TEST_KEYS.tenantB) });
    expect(view).not.toHaveProperty('owner');
    await api(`/deletions/${rows[0].id}`).expect(200);
    expect((await api(`/deletions/${rows[0].id}`, TEST_KEYS.tenantA).expect(404)).body).toMatchObject({ error: 'deletion_not_found' });
    expect((await api(`/deletions?session_id=${session.id}`, TEST_KEYS.tenantA).expect(200)).body).toEqual({ data: [], next_cursor: null });

    const metrics = await ctx.http().get('/metrics').set('x-api-key', API_KEY).expect(200);
    expect(metrics.text).toMatch(/rtms_hub_deletions_total\{reason="session_deleted"\} [1-9]/);
    expect(metrics.text).toMatch(new RegExp(`rtms_hub_deleted_bytes_total\\{reason="session_deleted"\\} [1-9]`));
  });

  it("Zoom's rtms_stopped with stop reason 8 purges the stream and logs stream_revoked (the follow-up pass only when it deletes something)", async () => {
    const meeting = ctx.sim.createMeeting();
    const stream = await ctx.sim.startRtms(meeting.id);
    const [{ session_id: sessionId }] = await waitFor(
      async () => {
        const rows = await query<{ session_id: string }>(ctx.hub.app, `SELECT session_id FROM rtms_streams WHERE rtms_stream_id = $1`, [stream.streamId]);
        return rows.length === 1 ? rows : undefined;
      },
      { what: 'stream row' },
    );
    const bytes = await storeArtifact(sessionId, stream.streamId, 5000, Buffer.alloc(321, 3));
    await get(MediaSaverService).saveTranscripts(transcripts(sessionId, stream.streamId, 2));

    await ctx.sim.stopRtms(stream.streamId, 8);
    const [row] = await waitFor(
      async () => {
        const rows = await api(`/deletions?session_id=${sessionId}&reason=stream_revoked`).expect(200);
        return (rows.body.data as DeletionView[]).length > 0 ? (rows.body.data as DeletionView[]) : undefined;
      },
      { what: 'stream_revoked entry', timeoutMs: 15000 },
    );
    expect(row).toMatchObject({
      reason: 'stream_revoked',
      actor: 'zoom',
      api_key_fingerprint: null,
      session_id: sessionId,
      rtms_stream_id: stream.streamId,
      categories: ['media', 'transcript', 'chat'],
      objects_deleted: 1,
      bytes_deleted: bytes,
      rows_deleted: { media_artifacts: 1, transcript_segments: 2, audio_segments: 0, audio_parts: 0 },
      details: { pass: 1 },
    });
    expect(await storage().stat(buildMediaKey({ sessionId, kind: 'video_frame', userId: 7, userName: 'Ann', name: 5000, ext: 'jpg' }))).toBeNull();
    const announced = await query<{ data: Record<string, unknown> }>(ctx.hub.app, `SELECT data FROM app_events WHERE session_id = $1 AND type = 'media.deleted'`, [sessionId]);
    expect(announced.map((e) => e.data)).toEqual([expect.objectContaining({ reason: 'stream_revoked', deletion_id: row.id, artifacts_deleted: 1, bytes_deleted: bytes })]);

    // The follow-up pass: nothing left, nothing logged; a row that landed late (a save
    // already running when the stream was revoked) is purged and logged.
    const savers = get(MediaSaverService);
    await savers.purgeStream(stream.streamId, 2);
    expect(await deletionsOf(sessionId)).toHaveLength(1);
    await query(
      ctx.hub.app,
      `INSERT INTO transcript_segments (session_id, rtms_stream_id, user_id, text, start_ms, end_ms, timestamp_ms) VALUES ($1, $2, '7', 'late', 9000, 9500, 9000)`,
      [sessionId, stream.streamId],
    );
    await savers.purgeStream(stream.streamId, 2);
    const after = await deletionsOf(sessionId);
    expect(after).toHaveLength(2);
    expect(after[1]).toMatchObject({ reason: 'stream_revoked', actor: 'zoom', objects_deleted: 0, rows_deleted: { media_artifacts: 0, transcript_segments: 1, audio_segments: 0, audio_parts: 0 } });
  });

  describe('GET /api/v1/deletions', () => {
    const sessionId = randomUUID();
    const ids: string[] = [];

    beforeAll(async () => {
      const log = get(DeletionLogService);
      const em = get(DataSource).manager;
      // Five entries of one (already gone) session of tenant-a, one erasure among them.
      for (let i = 0; i < 5; i++) {
        const reason = i === 2 ? DeletionReason.Erasure : DeletionReason.Retention;
        const entry = await log.record({ reason, sessionId, categories: ['media'], objectsDeleted: i, bytesDeleted: i * 100, rowsDeleted: { media_artifacts: i }, owner: 'tenant-a' }, em);
        ids.push(entry.id);
      }
    });

    it('pages newest first with keyset cursors, and filters by session and reason', async () => {
      const { pages } = await allPages(`/deletions?session_id=${sessionId}&limit=2`);
      expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
      const listed = pages.flat();
      expect(listed.map((d) => d.id)).toEqual([...ids].reverse());
      for (let i = 1; i < listed.length; i++) expect(Date.parse(listed[i - 1].created_at)).toBeGreaterThanOrEqual(Date.parse(listed[i].created_at));

      const retention = (await api(`/deletions?session_id=${sessionId}&reason=retention`).expect(200)).body.data as DeletionView[];
      expect(retention.map((d) => d.id)).toEqual([ids[4], ids[3], ids[1], ids[0]]);
      const erasure = (await api(`/deletions?session_id=${sessionId}&reason=erasure`).expect(200)).body.data as DeletionView[];
      expect(erasure.map((d) => [d.id, d.reason, d.actor])).toEqual([[ids[2], 'erasure', 'system']]);
      expect((await api(`/deletions?session_id=${sessionId}&reason=session_deleted`).expect(200)).body).toEqual({ data: [], next_cursor: null });
    });

    it('filters by time: created_from inclusive, created_to exclusive', async () => {
      const [first] = await query<{ at: string }>(ctx.hub.app, `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at FROM deletion_log WHERE id = $1`, [ids[0]]);
      const count = async (q: string) => ((await api(`/deletions?session_id=${sessionId}${q}`).expect(200)).body.data as DeletionView[]).length;
      expect(await count(`&created_from=${first.at}`)).toBe(5);
      expect(await count(`&created_to=${first.at}`)).toBe(0);
      expect(await count('&created_from=2000-01-01&created_to=2000-01-02')).toBe(0);
      expect(await count(`&created_from=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`)).toBe(0);
    });

    it('owner-scoped keys see only their owner', async () => {
      const mine = (await api(`/deletions?session_id=${sessionId}&limit=100`, TEST_KEYS.tenantA).expect(200)).body.data as DeletionView[];
      expect(mine).toHaveLength(5);
      expect((await api(`/deletions?session_id=${sessionId}`, TEST_KEYS.tenantB).expect(200)).body.data).toEqual([]);
      const everything = (await api('/deletions?limit=100', TEST_KEYS.tenantB).expect(200)).body.data as DeletionView[];
      expect(everything.some((d) => ids.includes(d.id))).toBe(false);
      await api(`/deletions/${ids[0]}`, TEST_KEYS.tenantA).expect(200);
      await api(`/deletions/${ids[0]}`, TEST_KEYS.tenantB).expect(404);
      // The reader role is enough; no key is not.
      await api(`/deletions/${ids[0]}`, TEST_KEYS.reader).expect(200);
      await ctx.http().get('/api/v1/deletions').expect(401);
    });

    it('bad filters are 400 JSON and change nothing', async () => {
      const [{ n: before }] = await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM deletion_log`);
      for (const q of ['reason=purged', 'session_id=not-a-uuid', 'created_from=2026-02-31', 'created_to=yesterday', 'limit=0', 'limit=101']) {
        const res = await api(`/deletions?${q}`).expect(400);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect({ q, error: res.body.error }).toEqual({ q, error: 'validation_failed' });
      }
      expect((await api('/deletions?cursor=bogus').expect(400)).body.error).toBe('invalid_cursor');
      expect((await api('/deletions/not-a-uuid').expect(400)).body.error).toBe('invalid_id');
      expect((await api(`/deletions/${randomUUID()}`).expect(404)).body.error).toBe('deletion_not_found');
      expect(await query(ctx.hub.app, `SELECT count(*)::int AS n FROM deletion_log`)).toEqual([{ n: before }]);
    });
  });

  it('the S3 driver reports the objects and bytes a prefix deletion removed', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'deletion-log-s3-'));
    const s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: 'media-test' }], allowMismatchedSignatures: true });
    const addr = await s3.run();
    const driver = new S3MediaStorage({ bucket: 'media-test', prefix: 'hub', region: 'us-east-1', endpoint: `http://127.0.0.1:${addr.port}`, forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
    try {
      const id = randomUUID();
      await driver.put(`${id}/video/a/1.jpg`, Buffer.alloc(1000), 'image/jpeg');
      await driver.put(`${id}/chat/a/2.json`, Buffer.alloc(24), 'application/json');
      await driver.put(`${randomUUID()}/video/a/1.jpg`, Buffer.alloc(5), 'image/jpeg');
      expect(await driver.deletePrefix(`${id}/`)).toEqual({ objects: 2, bytes: 1024 });
      expect(await driver.deletePrefix(`${id}/`)).toEqual({ objects: 0, bytes: 0 });
    } finally {
      await driver.close();
      await s3.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
