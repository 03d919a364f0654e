import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
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

/** The SQL of `media_artifacts` (the API's paged reads go through the TypeORM repository in ArtifactsService). */
@Injectable()
export class MediaArtifactsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Inserts or updates artifact rows by storage key in one statement; returns their ids
   * by storage key. Idempotent: a retried save updates the same rows.
   */
  async upsertMany(all: ArtifactRow[], em: EntityManager = this.db.manager): Promise<Map<string, string>> {
    // One row per key: a batch may carry the same frame twice, and ON CONFLICT DO UPDATE refuses that.
    const rows = [...new Map(all.map((r) => [r.storageKey, r])).values()];
    if (rows.length === 0) return new Map();
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

  /** Storage keys of every artifact of a stream. */
  async storageKeysForStream(rtmsStreamId: string, em: EntityManager = this.db.manager): Promise<string[]> {
    const rows: Array<{ storage_key: string }> = await em.query(`SELECT storage_key FROM media_artifacts WHERE rtms_stream_id = $1`, [rtmsStreamId]);
    return rows.map((r) => r.storage_key);
  }

  async deleteForStream(rtmsStreamId: string, em: EntityManager = this.db.manager): Promise<void> {
    await em.query(`DELETE FROM media_artifacts WHERE rtms_stream_id = $1`, [rtmsStreamId]);
  }
}
