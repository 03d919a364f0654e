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
  old_joined_at: Date | null;
  old_left_at: Date | null;
  old_seen: boolean;
  user_name: string | null;
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
   * been seen leaving — not a repeated join of someone already in. The row as it was is
   * read (locked) in the same statement; a concurrent first insert of the same row (not
   * seen by it) counts as not news, since the other statement announced it.
   */
  async upsertJoined(sessionId: string, zoomUserId: string, userName: string | null, at: Date, em: EntityManager = this.dataSource.manager): Promise<ParticipantUpsert> {
    const rows: UpsertRow[] = await em.query(
      `WITH old AS (
         SELECT joined_at, left_at FROM participants WHERE session_id = $1 AND zoom_user_id = $2 FOR UPDATE)
       INSERT INTO participants (session_id, zoom_user_id, user_name, joined_at, left_at) VALUES ($1, $2, $3, $4, NULL)
       ON CONFLICT (session_id, zoom_user_id) DO UPDATE
         SET left_at = NULL, user_name = COALESCE(EXCLUDED.user_name, participants.user_name), updated_at = now()
       RETURNING (xmax = 0) AS inserted, (SELECT joined_at FROM old) AS old_joined_at, (SELECT left_at FROM old) AS old_left_at,
                 EXISTS (SELECT 1 FROM old) AS old_seen, user_name`,
      [sessionId, zoomUserId, userName, at],
    );
    const r = rows[0];
    const changed = r.inserted || (r.old_seen && (r.old_left_at !== null || r.old_joined_at === null));
    return { changed, userName: r.user_name };
  }

  /**
   * Inserts or updates on leave: sets left_at only (a leave without a join still leaves a
   * row). `changed`: the participant had not left yet (a repeated leave is no news).
   */
  async upsertLeft(sessionId: string, zoomUserId: string, at: Date, em: EntityManager = this.dataSource.manager): Promise<ParticipantUpsert> {
    const rows: UpsertRow[] = await em.query(
      `WITH old AS (
         SELECT joined_at, left_at FROM participants WHERE session_id = $1 AND zoom_user_id = $2 FOR UPDATE)
       INSERT INTO participants (session_id, zoom_user_id, user_name, joined_at, left_at) VALUES ($1, $2, NULL, NULL, $3)
       ON CONFLICT (session_id, zoom_user_id) DO UPDATE SET left_at = EXCLUDED.left_at, updated_at = now()
       RETURNING (xmax = 0) AS inserted, (SELECT joined_at FROM old) AS old_joined_at, (SELECT left_at FROM old) AS old_left_at,
                 EXISTS (SELECT 1 FROM old) AS old_seen, user_name`,
      [sessionId, zoomUserId, at],
    );
    const r = rows[0];
    const changed = r.inserted || (r.old_seen && r.old_left_at === null);
    return { changed, userName: r.user_name };
  }

  /** A session's participants by join time (then user id). */
  findBySession(sessionId: string): Promise<ParticipantEntity[]> {
    return this.repo().find({ where: { sessionId }, order: { joinedAt: 'ASC', zoomUserId: 'ASC' } });
  }
}
