import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../../database/returning-rows';
import { PersonRef, payloadHasUserIds, payloadMentions } from '../payload-match';
import { erasePersonFromPayload } from '../payload-redaction';

/** A (session, Zoom user) pair of the participants table. */
export interface ParticipantRef {
  sessionId: string;
  userId: string;
}

/** What erasure needs to know about a session before touching it. */
export interface SessionErasureFacts {
  id: string;
  owner: string | null;
  legalHoldAt: Date | null;
}

/** What erasing users did to a session's timeline (session_events). */
export interface TimelineErasure {
  /** Zoom's events (webhook, event WebSocket) deleted. */
  zoomEvents: number;
  /** The stream workers' events deleted. */
  workerEvents: number;
  /** Events of either kept with the users' entries taken out of their lists. */
  redacted: number;
}

/** Zoom's mixed audio stream is user 0: never a person to look up. */
const MIXED_USER = '0';

/**
 * The sessions-side SQL of erasure by participant (docs/retention.md "Erasure"): finding
 * a person among participants, a session's owner and legal hold, deleting a participant
 * row; and the email Zoom's meeting.participant_joined webhook gives a participant.
 */
@Injectable()
export class ParticipantLookupRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async byUserId(userId: string): Promise<ParticipantRef[]> {
    const rows: Array<{ session_id: string; zoom_user_id: string }> = await this.db.query(
      `SELECT session_id, zoom_user_id FROM participants WHERE zoom_user_id = $1 AND zoom_user_id <> $2`,
      [userId, MIXED_USER],
    );
    return rows.map((r) => ({ sessionId: r.session_id, userId: r.zoom_user_id }));
  }

  /** Participants with this display name, compared after NFC normalisation (case-sensitive). */
  async byUserName(nfcName: string): Promise<ParticipantRef[]> {
    const rows: Array<{ session_id: string; zoom_user_id: string }> = await this.db.query(
      `SELECT session_id, zoom_user_id FROM participants WHERE user_name IS NOT NULL AND normalize(user_name, NFC) = $1 AND zoom_user_id <> $2`,
      [nfcName, MIXED_USER],
    );
    return rows.map((r) => ({ sessionId: r.session_id, userId: r.zoom_user_id }));
  }

  /** Participants with this email (stored lower-cased). */
  async byEmail(email: string): Promise<ParticipantRef[]> {
    const rows: Array<{ session_id: string; zoom_user_id: string }> = await this.db.query(
      `SELECT session_id, zoom_user_id FROM participants WHERE email = $1 AND zoom_user_id <> $2`,
      [email, MIXED_USER],
    );
    return rows.map((r) => ({ sessionId: r.session_id, userId: r.zoom_user_id }));
  }

  async facts(sessionIds: string[]): Promise<SessionErasureFacts[]> {
    if (sessionIds.length === 0) return [];
    const rows: Array<{ id: string; owner: string | null; legal_hold_at: Date | null }> = await this.db.query(
      `SELECT id, owner, legal_hold_at FROM sessions WHERE id = ANY($1::uuid[])`,
      [sessionIds],
    );
    return rows.map((r) => ({ id: r.id, owner: r.owner, legalHoldAt: r.legal_hold_at }));
  }

  /**
   * The session's facts under a share lock held to the end of `em`'s transaction: a legal
   * hold (an UPDATE of the row) waits for the erasure of the session to commit, and an
   * erasure that reads the row after a hold sees it. Null: the session is gone.
   */
  async lockFacts(sessionId: string, em: EntityManager): Promise<SessionErasureFacts | null> {
    const rows: Array<{ id: string; owner: string | null; legal_hold_at: Date | null }> = await em.query(
      `SELECT id, owner, legal_hold_at FROM sessions WHERE id = $1 FOR SHARE`,
      [sessionId],
    );
    return rows[0] ? { id: rows[0].id, owner: rows[0].owner, legalHoldAt: rows[0].legal_hold_at } : null;
  }

  async deleteParticipants(sessionId: string, userIds: string[], em: EntityManager): Promise<number> {
    const rows = await returningRows<{ id: string }>(
      em.query(`DELETE FROM participants WHERE session_id = $1 AND zoom_user_id = ANY($2::varchar[]) RETURNING id`, [sessionId, userIds]),
    );
    return rows.length;
  }

  /**
   * Takes the users out of the session's timeline: Zoom's events (webhook, event
   * WebSocket: their meeting.participant_joined holds their name and email) and the stream
   * workers' (RTMS participant lists, active speaker, sharing, video on/off, media.lost,
   * notes) whose payload carries one of these user ids in a `user_id` member — or, by
   * name (`nfcName`), that name as a string. An event about them alone is deleted; one
   * listing others too keeps the others, without their entries (payload-redaction.ts).
   */
  async eraseEventsOfUsers(sessionId: string, userIds: string[], nfcName: string | null, em: EntityManager): Promise<TimelineErasure> {
    const byName = nfcName === null ? null : payloadMentions('payload', { kind: 'user_name', value: nfcName }, 3);
    const rows: Array<{ id: string; source: string; payload: Record<string, unknown> }> = await em.query(
      `SELECT id, source, payload FROM session_events
        WHERE session_id = $1 AND source IN ('webhook', 'event_ws', 'worker') AND (${payloadHasUserIds('payload', 2)}${byName ? ` OR ${byName.sql}` : ''})
        ORDER BY id FOR UPDATE`,
      [sessionId, userIds, ...(byName?.params ?? [])],
    );
    const person = { userIds: new Set(userIds), name: nfcName };
    const deleted: Array<{ id: string; source: string }> = [];
    const redacted: Array<{ id: string; payload: Record<string, unknown> }> = [];
    for (const r of rows) {
      const outcome = erasePersonFromPayload(r.payload, person);
      if (outcome.action === 'delete') deleted.push(r);
      else if (outcome.action === 'redact') redacted.push({ id: r.id, payload: outcome.payload });
    }
    if (deleted.length > 0) await em.query(`DELETE FROM session_events WHERE id = ANY($1::uuid[])`, [deleted.map((r) => r.id)]);
    if (redacted.length > 0) {
      await em.query(
        `UPDATE session_events e SET payload = r.payload FROM unnest($1::uuid[], $2::jsonb[]) AS r(id, payload) WHERE e.id = r.id`,
        [redacted.map((r) => r.id), redacted.map((r) => JSON.stringify(r.payload))],
      );
    }
    const worker = deleted.filter((r) => r.source === 'worker').length;
    return { zoomEvents: deleted.length - worker, workerEvents: worker, redacted: redacted.length };
  }

  /**
   * Deletes up to `limit` events linked to no session whose payload is about the person
   * (their user id, email or name anywhere in it); returns how many. Events still
   * `received` are left to their processing (an rtms_started names its operator too).
   */
  async deleteUnlinkedEventsOf(person: PersonRef, limit: number, em: EntityManager): Promise<number> {
    const match = payloadMentions('payload', person, 2);
    const rows = await returningRows<{ id: string }>(
      em.query(
        `DELETE FROM session_events WHERE id IN (
           SELECT id FROM session_events WHERE session_id IS NULL AND status <> 'received' AND ${match.sql} LIMIT $1::int)
         RETURNING id`,
        [limit, ...match.params],
      ),
    );
    return rows.length;
  }

  /**
   * Records a participant's email on the row of (session, Zoom user), creating the row if
   * the stream has not reported the participant yet. Returns whether a row was written.
   */
  async recordEmail(sessionId: string, zoomUserId: string, email: string, userName: string | null): Promise<void> {
    await this.db.query(
      `INSERT INTO participants (session_id, zoom_user_id, user_name, email) VALUES ($1, $2, $3, $4)
       ON CONFLICT (session_id, zoom_user_id) DO UPDATE SET email = EXCLUDED.email, user_name = COALESCE(participants.user_name, EXCLUDED.user_name), updated_at = now()`,
      [sessionId, zoomUserId, userName, email],
    );
  }
}
