import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/** The SQL of `recording_completions`: the once-only record of a session's recording.ready. */
@Injectable()
export class RecordingCompletionsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Claims the session's completion: true when this call inserted the row. A concurrent
   * claim waits on the primary key until the first commits, then inserts nothing (or
   * inserts, if the first rolled back), so exactly one transaction announces it.
   */
  async claim(
    row: { sessionId: string; counts: Record<string, number>; forced: boolean; pending: Record<string, unknown> | null },
    em: EntityManager,
  ): Promise<boolean> {
    const res: unknown[] = await em.query(
      `INSERT INTO recording_completions (session_id, counts, forced, pending) VALUES ($1, $2, $3, $4)
       ON CONFLICT (session_id) DO NOTHING RETURNING session_id`,
      [row.sessionId, JSON.stringify(row.counts), row.forced, row.pending === null ? null : JSON.stringify(row.pending)],
    );
    return res.length === 1;
  }

  async setEventId(sessionId: string, eventId: string, em: EntityManager): Promise<void> {
    await em.query(`UPDATE recording_completions SET event_id = $2 WHERE session_id = $1`, [sessionId, eventId]);
  }

  async exists(sessionId: string, em: EntityManager = this.db.manager): Promise<boolean> {
    const rows: unknown[] = await em.query(`SELECT 1 FROM recording_completions WHERE session_id = $1`, [sessionId]);
    return rows.length > 0;
  }
}
