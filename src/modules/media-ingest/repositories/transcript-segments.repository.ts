import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

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

/** The SQL of `transcript_segments` (the API reads them through the TypeORM repository in ArtifactsService). */
@Injectable()
export class TranscriptSegmentsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Inserts the lines in one statement, skipping those already stored (natural key:
   * stream, user, timestamp, start). Returns how many were new.
   */
  async insertMany(rows: TranscriptRow[], em: EntityManager = this.db.manager): Promise<number> {
    if (rows.length === 0) return 0;
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.sessionId, r.rtmsStreamId, r.userId, r.userName, r.text, r.startMs, r.endMs, r.timestampMs, r.language, r.attribute);
      const o = i * 10;
      return `($${o + 1},$${o + 2},$${o + 3},$${o + 4},$${o + 5},$${o + 6},$${o + 7},$${o + 8},$${o + 9},$${o + 10})`;
    });
    const res: unknown[] = await em.query(
      `INSERT INTO transcript_segments (session_id, rtms_stream_id, user_id, user_name, text, start_ms, end_ms, timestamp_ms, language, attribute)
       VALUES ${tuples.join(',')}
       ON CONFLICT (rtms_stream_id, user_id, timestamp_ms, start_ms) DO NOTHING RETURNING id`,
      values,
    );
    return res.length;
  }

  async deleteForStream(rtmsStreamId: string, em: EntityManager = this.db.manager): Promise<void> {
    await em.query(`DELETE FROM transcript_segments WHERE rtms_stream_id = $1`, [rtmsStreamId]);
  }
}
