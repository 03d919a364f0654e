import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../../database/returning-rows';

/** A transcript line as stored (texts already clamped for the database). */
export interface TranscriptRow {
  sessionId: string;
  rtmsStreamId: string;
  userId: string;
  userName: string | null;
  text: string;
  startMs: number;
  endMs: number;
  timestampMs: number;
  language: number | null;
  attribute: number | null;
}

interface InsertedRow {
  id: string;
  session_id: string;
  rtms_stream_id: string;
  user_id: string;
  user_name: string | null;
  text: string;
  start_ms: string;
  end_ms: string;
  timestamp_ms: string;
  language: number | null;
  attribute: number | null;
}

/** The SQL of `transcript_segments` (the API reads them through the TypeORM repository in ArtifactsService). */
@Injectable()
export class TranscriptSegmentsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Inserts the lines in one statement, skipping those already stored (natural key:
   * stream, user, timestamp, start). Returns how many were new.
   */
  /** Inserts the lines in one statement; returns those that were new (a line already stored is skipped, not returned). */
  async insertNew(rows: TranscriptRow[], em: EntityManager = this.db.manager): Promise<Array<TranscriptRow & { id: string }>> {
    if (rows.length === 0) return [];
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.sessionId, r.rtmsStreamId, r.userId, r.userName, r.text, r.startMs, r.endMs, r.timestampMs, r.language, r.attribute);
      const o = i * 10;
      return `($${o + 1},$${o + 2},$${o + 3},$${o + 4},$${o + 5},$${o + 6},$${o + 7},$${o + 8},$${o + 9},$${o + 10})`;
    });
    const res: InsertedRow[] = await em.query(
      `INSERT INTO transcript_segments (session_id, rtms_stream_id, user_id, user_name, text, start_ms, end_ms, timestamp_ms, language, attribute)
       VALUES ${tuples.join(',')}
       ON CONFLICT (rtms_stream_id, user_id, timestamp_ms, start_ms) DO NOTHING
       RETURNING id, session_id, rtms_stream_id, user_id, user_name, text, start_ms::text, end_ms::text, timestamp_ms::text, language, attribute`,
      values,
    );
    return res.map((r) => ({
      id: r.id,
      sessionId: r.session_id,
      rtmsStreamId: r.rtms_stream_id,
      userId: r.user_id,
      userName: r.user_name,
      text: r.text,
      startMs: Number(r.start_ms),
      endMs: Number(r.end_ms),
      timestampMs: Number(r.timestamp_ms),
      language: r.language,
      attribute: r.attribute,
    }));
  }

  async countForSession(sessionId: string, em: EntityManager = this.db.manager): Promise<number> {
    const rows: Array<{ n: number }> = await em.query(`SELECT count(*)::int AS n FROM transcript_segments WHERE session_id = $1`, [sessionId]);
    return rows[0].n;
  }

  /** How many rows went. */
  async deleteForStream(rtmsStreamId: string, em: EntityManager = this.db.manager): Promise<number> {
    return (await returningRows(em.query(`DELETE FROM transcript_segments WHERE rtms_stream_id = $1 RETURNING 1`, [rtmsStreamId]))).length;
  }

}
