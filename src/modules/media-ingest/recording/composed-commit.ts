import { EntityManager, In } from 'typeorm';
import { MediaArtifactEntity } from '../entities/media-artifact.entity';

/**
 * The SQL of storing a composition (RecordingMediaService.commitComposed): in one
 * transaction under the session row's lock (SessionsService.lockForMediaWrite), the
 * sources the composition was planned from are checked to be all still there,
 * unchanged, before its rows are written. Either a deletion of the session's media
 * committed first and its rows are seen gone here, or it waits for this transaction and
 * then deletes what it stored.
 */

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
