import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { ParticipantEntity } from '../entities/participant.entity';

/** What an upsert changed: whether the participant's presence is news, and the name on the row. */
export interface ParticipantUpsert {
  changed: boolean;
  userName: string | null;
}

interface UpsertRow {
  inserted: boolean;
  user_name: string | null;
}

interface PresenceRow {
  joined_at: Date | null;
  left_at: Date | null;
}

/** The participants table: one row per (session, Zoom user). */
@Injectable()
export class ParticipantsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(): Repository<ParticipantEntity> {
    return this.dataSource.getRepository(ParticipantEntity);
  }

  /**
   * Inserts or updates on join: a rejoin clears left_at; a known name is kept when none is
   * given. `changed`: the row is new, or the participant had left (a rejoin) or had only
   * been seen leaving — not a repeated join of someone already in. Call it in a
   * transaction: the row as it was is read under a row lock first, so two observations
   * of one participant serialise (a concurrent first insert is seen as a conflict, not as
   * news: the other statement announced it).
   */
  async upsertJoined(sessionId: string, zoomUserId: string, userName: string | null, at: Date, em: EntityManager = this.dataSource.manager): Promise<ParticipantUpsert> {
    const old = await this.lockPresence(sessionId, zoomUserId, em);
    const rows: UpsertRow[] = await em.query(
      `INSERT INTO participants (session_id, zoom_user_id, user_name, joined_at, left_at) VALUES ($1, $2, $3, $4, NULL)
       ON CONFLICT (session_id, zoom_user_id) DO UPDATE
         SET left_at = NULL, user_name = COALESCE(EXCLUDED.user_name, participants.user_name), updated_at = now()
       RETURNING (xmax = 0) AS inserted, user_name`,
      [sessionId, zoomUserId, userName, at],
    );
    const r = rows[0];
    const changed = r.inserted || (old !== undefined && (old.left_at !== null || old.joined_at === null));
    return { changed, userName: r.user_name };
  }

  /**
   * Inserts or updates on leave: sets left_at only (a leave without a join still leaves a
   * row). `changed`: the participant had not left yet (a repeated leave is no news).
   */
  async upsertLeft(sessionId: string, zoomUserId: string, at: Date, em: EntityManager = this.dataSource.manager): Promise<ParticipantUpsert> {
    const old = await this.lockPresence(sessionId, zoomUserId, em);
    const rows: UpsertRow[] = await em.query(
      `INSERT INTO participants (session_id, zoom_user_id, user_name, joined_at, left_at) VALUES ($1, $2, NULL, NULL, $3)
       ON CONFLICT (session_id, zoom_user_id) DO UPDATE SET left_at = EXCLUDED.left_at, updated_at = now()
       RETURNING (xmax = 0) AS inserted, user_name`,
      [sessionId, zoomUserId, at],
    );
    const r = rows[0];
    const changed = r.inserted || (old !== undefined && old.left_at === null);
    return { changed, userName: r.user_name };
  }

  /** The participant's row as it is now, locked until the transaction ends (undefined: none yet). */
  private async lockPresence(sessionId: string, zoomUserId: string, em: EntityManager): Promise<PresenceRow | undefined> {
    const rows: PresenceRow[] = await em.query(`SELECT joined_at, left_at FROM participants WHERE session_id = $1 AND zoom_user_id = $2 FOR UPDATE`, [sessionId, zoomUserId]);
    return rows[0];
  }

  /** A session's participants by join time (then user id). */
  findBySession(sessionId: string): Promise<ParticipantEntity[]> {
    return this.repo().find({ where: { sessionId }, order: { joinedAt: 'ASC', zoomUserId: 'ASC' } });
  }
}
