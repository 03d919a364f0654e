import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { QueueName } from '../src/jobs/queue-names';
import { MediaArtifactsRepository } from '../src/modules/media-ingest/repositories/media-artifacts.repository';
import { MediaSaverService } from '../src/modules/media-ingest/savers/media-saver.service';
import { buildMediaKey } from '../src/modules/media-ingest/storage/media-key';
import { MEDIA_STORAGE, MediaStorage } from '../src/modules/media-ingest/storage/media-storage';
import { insertSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';

/**
 * A revoked stream's purge (stop reason 8: Zoom requires its media deleted) against saves
 * still in flight: a save that checked the revoked key before the purge set it may commit
 * its row, with its object already written, after the purge listed the stream's objects.
 * The purge deletes those objects too, before its row deletion commits, and the deletion
 * log counts what was deleted.
 */
describe('Revoked stream purge: saves committed during the purge', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'revoked-purge-'));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const ctx = useE2eContext({
    hub: { api: false, worker: { queues: [QueueName.MediaFrames], explicit: true } },
    env: () => ({ STORAGE_DRIVER: 'local', STORAGE_LOCAL_DIR: root }),
  });
  const get = <T>(cls: abstract new (...args: never[]) => T): T => ctx.hub.app.get(cls, { strict: false });
  const storage = () => ctx.hub.app.get<MediaStorage>(MEDIA_STORAGE);

  afterEach(() => jest.restoreAllMocks());

  /** A session with one stream, as the hub records them. */
  async function newStream(): Promise<{ sessionId: string; streamId: string }> {
    const sessionId = await insertSession(ctx.hub, { meetingUuid: `revoked-${randomUUID()}` });
    const streamId = `revoked-${randomUUID()}`;
    await query(ctx.hub.app, `INSERT INTO rtms_streams (rtms_stream_id, session_id, server_urls, status) VALUES ($1, $2, 'wss://x', 'active')`, [streamId, sessionId]);
    return { sessionId, streamId };
  }

  /** What a frame save leaves: the object, then its row. Returns the key and the bytes written. */
  async function saveFrame(sessionId: string, rtmsStreamId: string, name: number, body: Buffer): Promise<{ key: string; bytes: number }> {
    const key = buildMediaKey({ sessionId, kind: 'video_frame', userId: 7, userName: 'Ann', name, ext: 'jpg' });
    const put = await storage().put(key, body, 'image/jpeg');
    await get(MediaSaverService).upsertArtifacts(get(DataSource).manager, [
      { sessionId, rtmsStreamId, kind: 'video_frame', userId: '7', userName: 'Ann', storageKey: key, contentType: 'image/jpeg', bytes: put.bytes, sha256: put.sha256, capturedAt: new Date(name), durationMs: null, meta: {} },
    ]);
    return { key, bytes: put.bytes };
  }

  const revokedDeletions = (rtmsStreamId: string) =>
    query<{ objects_deleted: number; bytes_deleted: string; rows_deleted: Record<string, number> }>(
      ctx.hub.app,
      `SELECT objects_deleted, bytes_deleted::text, rows_deleted FROM deletion_log WHERE rtms_stream_id = $1 AND reason = 'stream_revoked' ORDER BY created_at`,
      [rtmsStreamId],
    );

  it('an artifact committed after the purge listed the stream’s objects has its object deleted with its row, and is counted', async () => {
    const { sessionId, streamId } = await newStream();
    const early = await saveFrame(sessionId, streamId, 1000, Buffer.alloc(100, 1));
    let late: { key: string; bytes: number } | undefined;
    const artifacts = get(MediaArtifactsRepository);
    const list = artifacts.objectsForStream.bind(artifacts);
    jest.spyOn(artifacts, 'objectsForStream').mockImplementationOnce(async (...args) => {
      const listed = await list(...args);
      // A save that passed the revoked check before the purge set it commits now.
      late = await saveFrame(sessionId, streamId, 2000, Buffer.alloc(50, 2));
      return listed;
    });

    const purged = await get(MediaSaverService).purgeStream(streamId);

    expect(late).toBeDefined();
    expect(await storage().stat(early.key)).toBeNull();
    expect(await storage().stat(late!.key)).toBeNull();
    expect(purged).toBe(2);
    expect(await query(ctx.hub.app, `SELECT 1 FROM media_artifacts WHERE rtms_stream_id = $1`, [streamId])).toEqual([]);
    expect(await revokedDeletions(streamId)).toEqual([
      { objects_deleted: 2, bytes_deleted: String(early.bytes + late!.bytes), rows_deleted: { media_artifacts: 2, transcript_segments: 0, audio_segments: 0, audio_parts: 0 } },
    ]);
  });

  it('an object re-saved after the purge deleted it (its row rewritten) is deleted again, and counted once', async () => {
    const { sessionId, streamId } = await newStream();
    const frame = await saveFrame(sessionId, streamId, 3000, Buffer.alloc(80, 3));
    const store = storage();
    const remove = store.delete.bind(store);
    jest.spyOn(store, 'delete').mockImplementationOnce(async (key) => {
      await remove(key);
      // A retried save of the same frame rewrites its object, then its row.
      await saveFrame(sessionId, streamId, 3000, Buffer.alloc(80, 3));
    });

    const purged = await get(MediaSaverService).purgeStream(streamId);

    expect(await store.stat(frame.key)).toBeNull();
    expect(purged).toBe(1);
    expect(await revokedDeletions(streamId)).toEqual([
      { objects_deleted: 1, bytes_deleted: String(frame.bytes), rows_deleted: { media_artifacts: 1, transcript_segments: 0, audio_segments: 0, audio_parts: 0 } },
    ]);
  });
});
