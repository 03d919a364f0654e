import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../../database/returning-rows';
import type { ArtifactKind } from '../storage/media-key';

/** A (session, Zoom user) pair that has media rows. */
export interface UserInSession {
  sessionId: string;
  userId: string;
}

/** A stored object of a participant, as erasure deletes it. */
export interface UserObject {
  storageKey: string;
  bytes: number;
  kind: ArtifactKind;
}

/** Zoom's mixed audio stream (every participant in one track) has user id 0. */
export const MIXED_AUDIO_USER_ID = '0';

/**
 * The SQL of one participant's media across the media tables (media_artifacts,
 * transcript_segments, audio_segments + audio_parts): what erasure by participant finds
 * and deletes (docs/retention.md "Erasure").
 */
@Injectable()
export class ParticipantMediaRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Sessions where the user id has media rows (never the mixed stream's user 0). */
  async sessionsOfUserId(userId: string): Promise<UserInSession[]> {
    const rows: Array<{ session_id: string; user_id: string }> = await this.db.query(
      `SELECT session_id, user_id FROM media_artifacts WHERE user_id = $1
       UNION SELECT session_id, user_id FROM transcript_segments WHERE user_id = $1
       UNION SELECT session_id, user_id FROM audio_segments WHERE user_id = $1`,
      [userId],
    );
    return rows.filter((r) => r.user_id !== MIXED_AUDIO_USER_ID).map((r) => ({ sessionId: r.session_id, userId: r.user_id }));
  }

  /** (session, user id) pairs whose media rows carry this display name, compared after NFC normalisation. */
  async sessionsOfUserName(nfcName: string): Promise<UserInSession[]> {
    const rows: Array<{ session_id: string; user_id: string }> = await this.db.query(
      `SELECT session_id, user_id FROM media_artifacts WHERE user_name IS NOT NULL AND normalize(user_name, NFC) = $1
       UNION SELECT session_id, user_id FROM transcript_segments WHERE user_name IS NOT NULL AND normalize(user_name, NFC) = $1
       UNION SELECT session_id, user_id FROM audio_segments WHERE user_name IS NOT NULL AND normalize(user_name, NFC) = $1`,
      [nfcName],
    );
    return rows.filter((r) => r.user_id !== MIXED_AUDIO_USER_ID).map((r) => ({ sessionId: r.session_id, userId: r.user_id }));
  }

  /**
   * Locks the users' audio segments of a session (FOR UPDATE, in id order) and returns
   * how many are still open. Needs a transaction. A WAV writer that holds one (claimOpen)
   * is waited for, so its artifact is visible to the reads that follow; once locked,
   * neither the writer (SKIP LOCKED) nor a spool flush (KEY SHARE) can touch them.
   */
  async lockUserSegments(sessionId: string, userIds: string[], em: EntityManager): Promise<{ total: number; open: number }> {
    const rows: Array<{ status: string }> = await em.query(
      `SELECT status FROM audio_segments WHERE session_id = $1 AND user_id = ANY($2::varchar[]) ORDER BY id FOR UPDATE`,
      [sessionId, userIds],
    );
    return { total: rows.length, open: rows.filter((r) => r.status === 'open').length };
  }

  /** The users' stored objects in a session. */
  async userObjects(sessionId: string, userIds: string[], em: EntityManager = this.db.manager): Promise<UserObject[]> {
    const rows: Array<{ storage_key: string; bytes: number; kind: ArtifactKind }> = await em.query(
      `SELECT storage_key, bytes, kind FROM media_artifacts WHERE session_id = $1 AND user_id = ANY($2::varchar[]) ORDER BY storage_key`,
      [sessionId, userIds],
    );
    return rows.map((r) => ({ storageKey: r.storage_key, bytes: Number(r.bytes), kind: r.kind }));
  }

  /** Which of the given folder prefixes hold an object of anyone but these users (such a folder is not removed). */
  async foldersShared(sessionId: string, folders: string[], userIds: string[], em: EntityManager = this.db.manager): Promise<Set<string>> {
    if (folders.length === 0) return new Set();
    const rows: Array<{ folder: string }> = await em.query(
      `SELECT f.folder FROM unnest($2::text[]) AS f(folder)
        WHERE EXISTS (SELECT 1 FROM media_artifacts a WHERE a.session_id = $1 AND NOT (a.user_id = ANY($3::varchar[]))
                         AND left(a.storage_key, length(f.folder)) = f.folder)`,
      [sessionId, folders, userIds],
    );
    return new Set(rows.map((r) => r.folder));
  }

  /** Deletes the users' artifact rows of a session; returns how many of each kind went. */
  async deleteUserArtifacts(sessionId: string, userIds: string[], em: EntityManager): Promise<Partial<Record<ArtifactKind, number>>> {
    const rows = await returningRows<{ kind: ArtifactKind }>(
      em.query(`DELETE FROM media_artifacts WHERE session_id = $1 AND user_id = ANY($2::varchar[]) RETURNING kind`, [sessionId, userIds]),
    );
    const out: Partial<Record<ArtifactKind, number>> = {};
    for (const r of rows) out[r.kind] = (out[r.kind] ?? 0) + 1;
    return out;
  }

  async deleteUserTranscript(sessionId: string, userIds: string[], em: EntityManager): Promise<number> {
    const rows = await returningRows<{ id: string }>(
      em.query(`DELETE FROM transcript_segments WHERE session_id = $1 AND user_id = ANY($2::varchar[]) RETURNING id`, [sessionId, userIds]),
    );
    return rows.length;
  }

  /** Deletes the users' audio segments of a session (their parts go with them: FK cascade); returns how many. */
  async deleteUserSegments(sessionId: string, userIds: string[], em: EntityManager): Promise<number> {
    const rows = await returningRows<{ id: string }>(
      em.query(`DELETE FROM audio_segments WHERE session_id = $1 AND user_id = ANY($2::varchar[]) RETURNING id`, [sessionId, userIds]),
    );
    return rows.length;
  }

  /** Whether the session has mixed audio (Zoom's one track of everyone). */
  async hasMixedAudio(sessionId: string): Promise<boolean> {
    const rows: Array<{ yes: boolean }> = await this.db.query(
      `SELECT EXISTS (SELECT 1 FROM media_artifacts WHERE session_id = $1 AND kind = 'audio_segment' AND user_id = $2)
           OR EXISTS (SELECT 1 FROM audio_segments WHERE session_id = $1 AND user_id = $2) AS yes`,
      [sessionId, MIXED_AUDIO_USER_ID],
    );
    return rows[0].yes;
  }
}
