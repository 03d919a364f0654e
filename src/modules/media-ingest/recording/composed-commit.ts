import { EntityManager, In } from 'typeorm';
import { MediaArtifactEntity } from '../entities/media-artifact.entity';

/**
 * The SQL of storing a composition (RecordingMediaService.commitComposed): in one
 * transaction under the session row's lock, the sources the composition was planned
 * from are checked to be all still there, unchanged, before its rows are written.
 */

/**
 * Locks the session row FOR NO KEY UPDATE until `em`'s transaction ends; false when the
 * session is gone. Every transaction that deletes a session's media locks that row before
 * it deletes the first object and keeps the lock until its rows are deleted: an erasure
 * (FOR SHARE: ErasureService.eraseSession), a retention purge batch (FOR NO KEY UPDATE)
 * and a session deletion (FOR NO KEY UPDATE). This mode conflicts with all of them (FOR
 * SHARE would not conflict with the erasure's). So either that transaction committed
 * first and changedSources sees its rows gone, or it waits for this one and then deletes
 * what this one stored (the recording, the erased person's audio file). Media inserts
 * (their foreign key takes KEY SHARE) are not held up.
 */
export async function lockSessionRow(em: EntityManager, sessionId: string): Promise<boolean> {
  const rows: unknown[] = await em.query(`SELECT 1 FROM sessions WHERE id = $1 FOR NO KEY UPDATE`, [sessionId]);
  return rows.length > 0;
}

/** Whether the session row exists (read without a lock: a session, once gone, never comes back). */
export async function sessionExists(em: EntityManager, sessionId: string): Promise<boolean> {
  const rows: unknown[] = await em.query(`SELECT 1 FROM sessions WHERE id = $1`, [sessionId]);
  return rows.length > 0;
}

/** The storage keys of `sources` whose row is gone, or now records other bytes (sha256) than when they were read. */
export async function changedSources(em: EntityManager, sources: ReadonlyArray<{ storageKey: string; sha256: string }>): Promise<string[]> {
  if (sources.length === 0) return [];
  const rows: Array<{ storage_key: string; sha256: string }> = await em.query(`SELECT storage_key, sha256 FROM media_artifacts WHERE storage_key = ANY($1::varchar[])`, [
    sources.map((s) => s.storageKey),
  ]);
  const now = new Map(rows.map((r) => [r.storage_key, r.sha256]));
  return sources.filter((s) => now.get(s.storageKey) !== s.sha256).map((s) => s.storageKey);
}

/** The artifact rows of these storage keys. */
export function rowsByKey(em: EntityManager, keys: string[]): Promise<MediaArtifactEntity[]> {
  if (keys.length === 0) return Promise.resolve([]);
  return em.getRepository(MediaArtifactEntity).find({ where: { storageKey: In(keys) } });
}

/** Postgres refused a row for a parent that is gone (SQLSTATE 23503: the session was deleted). */
export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  return e?.code === '23503' || e?.driverError?.code === '23503';
}
