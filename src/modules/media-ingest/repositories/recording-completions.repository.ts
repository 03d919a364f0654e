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
    row: { sessionId: string; counts: Record<string, number>; forced: boolean; pending: Record<string, unknown> | null; composeState?: 'pending' | null },
    em: EntityManager,
  ): Promise<boolean> {
    const res: unknown[] = await em.query(
      `INSERT INTO recording_completions (session_id, counts, forced, pending, compose_state) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (session_id) DO NOTHING RETURNING session_id`,
      [row.sessionId, JSON.stringify(row.counts), row.forced, row.pending === null ? null : JSON.stringify(row.pending), row.composeState ?? null],
    );
    return res.length === 1;
  }

  /**
   * The completion whose announcement waits for the compose job, locked (FOR UPDATE) so
   * two runs of that job announce it once: null when there is none or it was announced.
   */
  async lockPendingCompose(sessionId: string, em: EntityManager): Promise<{ counts: Record<string, number>; forced: boolean; pending: Record<string, unknown> | null } | null> {
    const rows: Array<{ counts: Record<string, number>; forced: boolean; pending: Record<string, unknown> | null }> = await em.query(
      `SELECT counts, forced, pending FROM recording_completions WHERE session_id = $1 AND compose_state = 'pending' AND event_id IS NULL FOR UPDATE`,
      [sessionId],
    );
    return rows[0] ?? null;
  }

  async setComposed(sessionId: string, state: 'done' | 'failed', eventId: string, em: EntityManager): Promise<void> {
    await em.query(`UPDATE recording_completions SET compose_state = $2, event_id = $3 WHERE session_id = $1`, [sessionId, state, eventId]);
  }

  /** The session's completion: absent, announced, or waiting for its compose job. */
  async state(sessionId: string, em: EntityManager = this.db.manager): Promise<'none' | 'announced' | 'compose_pending'> {
    const rows: Array<{ compose_state: string | null; event_id: string | null }> = await em.query(
      `SELECT compose_state, event_id FROM recording_completions WHERE session_id = $1`,
      [sessionId],
    );
    if (rows.length === 0) return 'none';
    return rows[0].compose_state === 'pending' && rows[0].event_id === null ? 'compose_pending' : 'announced';
  }

  async setEventId(sessionId: string, eventId: string, em: EntityManager): Promise<void> {
    await em.query(`UPDATE recording_completions SET event_id = $2 WHERE session_id = $1`, [sessionId, eventId]);
  }

  /**
   * Of the given sessions, those whose recording.ready is still to come: no completion row
   * yet, or one claimed for a composition that has not announced it.
   */
  async unannounced(sessionIds: string[]): Promise<{ withoutCompletion: string[]; composePending: string[] }> {
    if (sessionIds.length === 0) return { withoutCompletion: [], composePending: [] };
    const rows: Array<{ id: string; pending: boolean }> = await this.db.query(
      `SELECT s.id, c.session_id IS NOT NULL AS pending FROM unnest($1::uuid[]) AS s(id)
       LEFT JOIN recording_completions c ON c.session_id = s.id
       WHERE c.session_id IS NULL OR (c.compose_state = 'pending' AND c.event_id IS NULL)`,
      [sessionIds],
    );
    return { withoutCompletion: rows.filter((r) => !r.pending).map((r) => r.id), composePending: rows.filter((r) => r.pending).map((r) => r.id) };
  }

  async exists(sessionId: string, em: EntityManager = this.db.manager): Promise<boolean> {
    const rows: unknown[] = await em.query(`SELECT 1 FROM recording_completions WHERE session_id = $1`, [sessionId]);
    return rows.length > 0;
  }
}
