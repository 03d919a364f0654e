import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../../database/returning-rows';
import type { ArtifactKind } from '../storage/media-key';

export interface StoredArtifactRef {
  id: string;
  storageKey: string;
  bytes: number;
}

export interface StoredTotals {
  objects: number;
  bytes: number;
}

/** The media tables' SQL of the retention sweep: a session's rows in batches, oldest first. */
@Injectable()
export class MediaRetentionRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Up to `limit` of the session's artifacts of these kinds, oldest first (locked: a concurrent batch skips them). */
  async lockArtifacts(sessionId: string, kinds: readonly ArtifactKind[], limit: number, em: EntityManager): Promise<StoredArtifactRef[]> {
    const rows: Array<{ id: string; storage_key: string; bytes: number }> = await em.query(
      `SELECT id, storage_key, bytes FROM media_artifacts WHERE session_id = $1 AND kind = ANY($2::varchar[])
        ORDER BY captured_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED`,
      [sessionId, kinds, limit],
    );
    return rows.map((r) => ({ id: r.id, storageKey: r.storage_key, bytes: Number(r.bytes) }));
  }

  async deleteArtifacts(ids: string[], em: EntityManager): Promise<number> {
    if (ids.length === 0) return 0;
    const rows = await returningRows<{ id: string }>(em.query(`DELETE FROM media_artifacts WHERE id = ANY($1::uuid[]) RETURNING id`, [ids]));
    return rows.length;
  }

  /** Deletes up to `limit` of the session's audio segments with their parts; returns how many of each. */
  async deleteAudioSegmentsBatch(sessionId: string, limit: number, em: EntityManager): Promise<{ segments: number; parts: number }> {
    const [row]: Array<{ segments: number; parts: number }> = await em.query(
      `WITH seg AS (SELECT id FROM audio_segments WHERE session_id = $1 ORDER BY created_at, id LIMIT $2::int FOR UPDATE SKIP LOCKED),
            parts AS (DELETE FROM audio_parts WHERE segment_id IN (SELECT id FROM seg) RETURNING 1),
            segs AS (DELETE FROM audio_segments WHERE id IN (SELECT id FROM seg) RETURNING 1)
       SELECT (SELECT count(*) FROM segs)::int AS segments, (SELECT count(*) FROM parts)::int AS parts`,
      [sessionId, limit],
    );
    return { segments: row?.segments ?? 0, parts: row?.parts ?? 0 };
  }

  /** Deletes up to `limit` of the session's transcript lines; returns how many. */
  async deleteTranscriptBatch(sessionId: string, limit: number, em: EntityManager): Promise<number> {
    const rows = await returningRows<{ id: string }>(
      em.query(
        `DELETE FROM transcript_segments WHERE id IN (SELECT id FROM transcript_segments WHERE session_id = $1 ORDER BY start_ms, id LIMIT $2::int FOR UPDATE SKIP LOCKED) RETURNING id`,
        [sessionId, limit],
      ),
    );
    return rows.length;
  }

  /** Stored objects and bytes of unheld sessions, per artifact kind (the retention gauges). */
  async storedByKind(): Promise<Record<string, StoredTotals>> {
    const rows: Array<{ kind: string; objects: number; bytes: string }> = await this.db.query(
      `SELECT a.kind, count(*)::int AS objects, coalesce(sum(a.bytes), 0)::text AS bytes
         FROM media_artifacts a JOIN sessions s ON s.id = a.session_id
        WHERE s.legal_hold_at IS NULL GROUP BY a.kind`,
    );
    return Object.fromEntries(rows.map((r) => [r.kind, { objects: r.objects, bytes: Number(r.bytes) }]));
  }
}
