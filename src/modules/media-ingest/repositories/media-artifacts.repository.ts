import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Brackets, DataSource, EntityManager } from 'typeorm';
import type { Cursor } from '../../../common/http/pagination';
import { returningRows } from '../../../database/returning-rows';
import { MediaArtifactEntity } from '../entities/media-artifact.entity';
import type { ArtifactKind } from '../storage/media-key';

/** An artifact row for an object already written to storage. */
export interface ArtifactRow {
  sessionId: string;
  rtmsStreamId: string;
  kind: ArtifactKind;
  userId: string;
  userName: string | null;
  storageKey: string;
  contentType: string;
  bytes: number;
  sha256: string;
  capturedAt: Date;
  durationMs: number | null;
  meta: Record<string, unknown>;
}

/**
 * A stream's stored object as its artifact row records it: the key, the bytes written
 * (put's count), and the row's version (its xmin), which changes whenever a save
 * rewrites the row, as it does after rewriting the object.
 */
export interface StreamObject {
  storageKey: string;
  bytes: number;
  rowVersion: string;
}

interface StreamObjectRow {
  storage_key: string;
  bytes: string | number;
  row_version: string;
}

const toStreamObject = (r: StreamObjectRow): StreamObject => ({ storageKey: r.storage_key, bytes: Number(r.bytes), rowVersion: r.row_version });

/** What the artifacts API filters a session's artifacts by. */
/** Frames a participant already has stored in a session (MediaArtifactsRepository.savedFrames). */
export interface SavedFrames {
  kind: 'video' | 'deskshare';
  userId: string;
  saved: number;
  /** Zoom timestamp (ms) of the last frame stored. */
  lastTs: number;
}

export interface ArtifactFilter {
  kind?: string;
  userId?: string;
  /** Captured at or after (ISO 8601). */
  from?: string;
  /** Captured before (ISO 8601). */
  to?: string;
}

/** The SQL of `media_artifacts`. */
@Injectable()
export class MediaArtifactsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * A session's artifacts oldest first by (captured_at, id), after `cursor`; fetches
   * `limit + 1` so the caller can tell whether another page follows.
   */
  findPageForSession(sessionId: string, filter: ArtifactFilter, limit: number, cursor?: Cursor): Promise<MediaArtifactEntity[]> {
    const qb = this.db
      .getRepository(MediaArtifactEntity)
      .createQueryBuilder('a')
      .where('a.session_id = :sessionId', { sessionId })
      .orderBy('a.captured_at', 'ASC')
      .addOrderBy('a.id', 'ASC')
      .take(limit + 1);
    if (filter.kind) qb.andWhere('a.kind = :kind', { kind: filter.kind });
    if (filter.userId) qb.andWhere('a.user_id = :userId', { userId: filter.userId });
    if (filter.from) qb.andWhere('a.captured_at >= :from', { from: filter.from });
    if (filter.to) qb.andWhere('a.captured_at < :to', { to: filter.to });
    if (cursor) {
      qb.andWhere(
        new Brackets((w) => w.where('a.captured_at > :cc', { cc: cursor.createdAt }).orWhere('(a.captured_at = :cc AND a.id > :ci)', { cc: cursor.createdAt, ci: cursor.id })),
      );
    }
    return qb.getMany();
  }

  /**
   * Inserts or updates artifact rows by storage key in one statement; returns their ids
   * by storage key. Idempotent: a retried save updates the same rows.
   *
   * One statement for the batch, so one row Postgres refuses fails them all: callers check
   * each item's time before they get here (the savers refuse an item with a bad timestamp
   * on its own, the WAV writer a segment), and a row whose `captured_at` is no valid Date
   * is refused here, before the query, naming its key.
   */
  async upsertMany(all: ArtifactRow[], em: EntityManager = this.db.manager): Promise<Map<string, string>> {
    // One row per key: a batch may carry the same frame twice, and ON CONFLICT DO UPDATE refuses that.
    const rows = [...new Map(all.map((r) => [r.storageKey, r])).values()];
    if (rows.length === 0) return new Map();
    const undated = rows.find((r) => !(r.capturedAt instanceof Date) || Number.isNaN(r.capturedAt.getTime()));
    if (undated) throw new RangeError(`artifact ${undated.storageKey}: captured_at is not a valid time`);
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.sessionId, r.rtmsStreamId, r.kind, r.userId, r.userName, r.storageKey, r.contentType, r.bytes, r.sha256, r.capturedAt, r.durationMs, JSON.stringify(r.meta));
      const o = i * 12;
      return `(${Array.from({ length: 12 }, (_, j) => `$${o + j + 1}`).join(',')})`;
    });
    const res: Array<{ id: string; storage_key: string }> = await em.query(
      `INSERT INTO media_artifacts (session_id, rtms_stream_id, kind, user_id, user_name, storage_key, content_type, bytes, sha256, captured_at, duration_ms, meta)
       VALUES ${tuples.join(',')}
       ON CONFLICT (storage_key) DO UPDATE SET bytes = EXCLUDED.bytes, sha256 = EXCLUDED.sha256, content_type = EXCLUDED.content_type,
         duration_ms = EXCLUDED.duration_ms, meta = EXCLUDED.meta, captured_at = EXCLUDED.captured_at
       RETURNING id, storage_key`,
      values,
    );
    return new Map(res.map((r) => [r.storage_key, r.id]));
  }

  /** The stored object's size and digest under a key, if a row records one. */
  async findByStorageKey(storageKey: string, em: EntityManager = this.db.manager): Promise<{ bytes: number; sha256: string } | null> {
    const rows: Array<{ bytes: number; sha256: string }> = await em.query(`SELECT bytes, sha256 FROM media_artifacts WHERE storage_key = $1`, [storageKey]);
    return rows[0] ?? null;
  }

  /** A session's artifacts of these kinds, oldest first by (captured_at, id). */
  findForSessionByKinds(sessionId: string, kinds: readonly string[]): Promise<MediaArtifactEntity[]> {
    return this.db
      .getRepository(MediaArtifactEntity)
      .createQueryBuilder('a')
      .where('a.session_id = :sessionId', { sessionId })
      .andWhere('a.kind IN (:...kinds)', { kinds })
      .orderBy('a.captured_at', 'ASC')
      .addOrderBy('a.id', 'ASC')
      .getMany();
  }

  findRowByStorageKey(storageKey: string): Promise<MediaArtifactEntity | null> {
    return this.db.getRepository(MediaArtifactEntity).findOne({ where: { storageKey } });
  }

  /** Deletes a session's artifacts of these kinds; returns their keys and bytes. */
  async deleteForSessionByKinds(sessionId: string, kinds: readonly ArtifactKind[], em: EntityManager = this.db.manager): Promise<Array<{ storageKey: string; bytes: number }>> {
    const rows = await returningRows<{ storage_key: string; bytes: string }>(
      em.query(`DELETE FROM media_artifacts WHERE session_id = $1 AND kind = ANY($2::varchar[]) RETURNING storage_key, bytes`, [sessionId, kinds]),
    );
    return rows.map((r) => ({ storageKey: r.storage_key, bytes: Number(r.bytes) }));
  }

  /** The stream's stored objects, as their artifact rows record them. */
  async objectsForStream(rtmsStreamId: string, em: EntityManager = this.db.manager): Promise<StreamObject[]> {
    const rows: StreamObjectRow[] = await em.query(`SELECT storage_key, bytes, xmin::text AS row_version FROM media_artifacts WHERE rtms_stream_id = $1`, [rtmsStreamId]);
    return rows.map(toStreamObject);
  }

  /** Deletes the stream's artifact rows; returns the objects they recorded (as objectsForStream does). */
  async deleteForStream(rtmsStreamId: string, em: EntityManager = this.db.manager): Promise<StreamObject[]> {
    const rows = await returningRows<StreamObjectRow>(
      em.query(`DELETE FROM media_artifacts WHERE rtms_stream_id = $1 RETURNING storage_key, bytes, xmin::text AS row_version`, [rtmsStreamId]),
    );
    return rows.map(toStreamObject);
  }

  async countForSession(sessionId: string, em: EntityManager = this.db.manager): Promise<number> {
    const rows: Array<{ n: number }> = await em.query(`SELECT count(*)::int AS n FROM media_artifacts WHERE session_id = $1`, [sessionId]);
    return rows[0].n;
  }

  /** How many artifacts of each kind a session has (what the artifacts API lists). */
  /**
   * Per participant and frame kind (video_frame, share_frame): how many frames the session
   * has stored and the Zoom timestamp of the last one. A stream's capture filter starts
   * from these, so a frame cap holds across takeovers and hand-overs.
   */
  async savedFrames(sessionId: string, em: EntityManager = this.db.manager): Promise<SavedFrames[]> {
    const rows: Array<{ kind: string; user_id: string; saved: number; last_ts: string }> = await em.query(
      `SELECT kind, user_id, count(*)::int AS saved, floor(extract(epoch FROM max(captured_at)) * 1000)::bigint AS last_ts
         FROM media_artifacts WHERE session_id = $1 AND kind IN ('video_frame', 'share_frame') GROUP BY kind, user_id`,
      [sessionId],
    );
    return rows.map((r) => ({ kind: r.kind === 'share_frame' ? 'deskshare' : 'video', userId: r.user_id, saved: r.saved, lastTs: Number(r.last_ts) }));
  }

  async countByKind(sessionId: string, em: EntityManager = this.db.manager): Promise<Partial<Record<ArtifactKind, number>>> {
    const rows: Array<{ kind: ArtifactKind; n: number }> = await em.query(`SELECT kind, count(*)::int AS n FROM media_artifacts WHERE session_id = $1 GROUP BY kind`, [sessionId]);
    return Object.fromEntries(rows.map((r) => [r.kind, r.n]));
  }
}
