import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../../database/returning-rows';
import { SessionEntity } from '../entities/session.entity';

/** What the retention sweep purges, per session (docs/retention.md). */
export type RetentionCategory = 'media' | 'transcript' | 'events';
export const RETENTION_CATEGORIES: readonly RetentionCategory[] = ['media', 'transcript', 'events'];

const PURGED_COLUMN: Record<RetentionCategory, string> = {
  media: 'media_purged_at',
  transcript: 'transcript_purged_at',
  events: 'events_purged_at',
};
/** The capture policy's per-session override of each category (days; JSON null = follow the config). */
const OVERRIDE: Record<RetentionCategory, string> = {
  media: `(capture_policy->'retention'->>'media_days')`,
  transcript: `(capture_policy->'retention'->>'transcript_days')`,
  events: `(capture_policy->'retention'->>'events_days')`,
};

export interface DueSession {
  id: string;
  /** When its retention for the category ran out. */
  expiredAt: Date;
}

/**
 * The sessions-table SQL of the retention sweep. Sessions whose category follows the
 * config come from that category's partial index (unheld, unpurged) as a range scan
 * up to the cut-off; sessions with an override of their own are few and filtered by it.
 */
@Injectable()
export class SessionRetentionRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Up to `limit` unheld sessions whose `category` has expired and is not purged yet,
   * the longest-expired first. `configDays`: RETENTION_*_DAYS (0 = forever).
   */
  async findDue(category: RetentionCategory, configDays: number, limit: number): Promise<DueSession[]> {
    const purged = PURGED_COLUMN[category];
    const override = OVERRIDE[category];
    const base = `legal_hold_at IS NULL AND ${purged} IS NULL AND retention_from IS NOT NULL`;
    // Two work lists, each read in index order and cut at `limit`, merged here: a UNION
    // ordered by expiry would read every due session before its LIMIT.
    const own: Array<{ id: string; expired_at: Date }> = await this.db.query(
      `SELECT id, retention_from + make_interval(secs => ${override}::float8 * 86400) AS expired_at FROM sessions
        WHERE ${base} AND ${override} IS NOT NULL AND ${override}::float8 > 0
          AND retention_from + make_interval(secs => ${override}::float8 * 86400) <= now()
        ORDER BY retention_from, id LIMIT $1::int`,
      [limit],
    );
    const byConfig: Array<{ id: string; expired_at: Date }> =
      configDays > 0
        ? await this.db.query(
            `SELECT id, retention_from + make_interval(secs => $2::float8) AS expired_at FROM sessions
              WHERE ${base} AND ${override} IS NULL AND retention_from <= now() - make_interval(secs => $2::float8)
              ORDER BY retention_from, id LIMIT $1::int`,
            [limit, configDays * 86400],
          )
        : [];
    return [...own, ...byConfig]
      .map((r) => ({ id: r.id, expiredAt: new Date(r.expired_at) }))
      .sort((a, b) => a.expiredAt.getTime() - b.expiredAt.getTime() || a.id.localeCompare(b.id))
      .slice(0, limit);
  }

  /**
   * The session under a row lock (FOR NO KEY UPDATE: it serialises with a legal hold and
   * other purge batches, not with the inserts whose foreign keys point at it).
   */
  lockForPurge(id: string, em: EntityManager): Promise<SessionEntity | null> {
    return em.getRepository(SessionEntity).createQueryBuilder('s').setLock('for_no_key_update').where('s.id = :id', { id }).getOne();
  }

  /** Of these sessions, those with a category purged (and not captured again since): id → its purged categories. */
  async purgedOf(ids: string[]): Promise<Map<string, Set<RetentionCategory>>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Map();
    const rows: Array<{ id: string; media: boolean; transcript: boolean; events: boolean }> = await this.db.query(
      `SELECT id, media_purged_at IS NOT NULL AS media, transcript_purged_at IS NOT NULL AS transcript, events_purged_at IS NOT NULL AS events FROM sessions
        WHERE id = ANY($1::uuid[]) AND (media_purged_at IS NOT NULL OR transcript_purged_at IS NOT NULL OR events_purged_at IS NOT NULL)`,
      [unique],
    );
    return new Map(rows.map((r) => [r.id, new Set(RETENTION_CATEGORIES.filter((c) => r[c]))]));
  }

  async markPurged(id: string, category: RetentionCategory, em: EntityManager): Promise<void> {
    await em.query(`UPDATE sessions SET ${PURGED_COLUMN[category]} = now() WHERE id = $1`, [id]);
  }

  /** Deletes up to `limit` of the session's events; returns how many. */
  async deleteEventsBatch(sessionId: string, limit: number, em: EntityManager): Promise<number> {
    const rows = await returningRows<{ id: string }>(
      em.query(`DELETE FROM session_events WHERE id IN (SELECT id FROM session_events WHERE session_id = $1 LIMIT $2::int) RETURNING id`, [sessionId, limit]),
    );
    return rows.length;
  }

  /**
   * Deletes up to `limit` events linked to no session, stored more than `days` ago, oldest
   * first (IDX_session_events_unlinked_created_at); returns how many. Events still
   * `received` stay: the pending-events sweeper has not given up on them yet.
   */
  async deleteUnlinkedEventsBatch(days: number, limit: number, em: EntityManager = this.db.manager): Promise<number> {
    const rows = await returningRows<{ id: string }>(
      em.query(
        `DELETE FROM session_events WHERE id IN (
           SELECT id FROM session_events
            WHERE session_id IS NULL AND created_at < now() - make_interval(secs => $1::float8) AND status <> 'received'
            ORDER BY created_at LIMIT $2::int)
         RETURNING id`,
        [days * 86400, limit],
      ),
    );
    return rows.length;
  }

  /** Deletes up to `limit` of the session's participants; returns how many. */
  async deleteParticipantsBatch(sessionId: string, limit: number, em: EntityManager): Promise<number> {
    const rows = await returningRows<{ id: string }>(
      em.query(`DELETE FROM participants WHERE id IN (SELECT id FROM participants WHERE session_id = $1 LIMIT $2::int) RETURNING id`, [sessionId, limit]),
    );
    return rows.length;
  }

  /** Deletes the session row (its streams and anything else left cascade); true when it was there. */
  async deleteSession(id: string, em: EntityManager): Promise<boolean> {
    const rows = await returningRows<{ id: string }>(em.query(`DELETE FROM sessions WHERE id = $1 RETURNING id`, [id]));
    return rows.length > 0;
  }
}
