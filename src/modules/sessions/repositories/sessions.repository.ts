import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, DeepPartial, EntityManager, In, Repository } from 'typeorm';
import { SessionEntity, SessionStatus } from '../entities/session.entity';
import { MAX_MERGED_RECEIVED_COUNTS, ReceivedCounts } from '../received-counts';
import { keysetPage, Keyed } from '../../../common/http/keyset-page';
import { Cursor } from '../../../common/http/pagination';

/** A session that can still receive a stream. */
export const OPEN_SESSION_STATUSES: readonly SessionStatus[] = [SessionStatus.Created, SessionStatus.RtmsStartRequested, SessionStatus.Streaming, SessionStatus.Paused];

export interface SessionListFilter {
  status?: SessionStatus;
  meetingId?: string;
  /** Created at or after (ISO 8601). */
  createdFrom?: string;
  /** Created before (ISO 8601). */
  createdTo?: string;
  /** Only this owner's sessions. */
  owner?: string;
}

/** A session that ended, and when. */
export interface EndedSession {
  id: string;
  endedAt: Date;
}

/** The sessions table. */
@Injectable()
export class SessionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(em?: EntityManager): Repository<SessionEntity> {
    return (em ?? this.dataSource.manager).getRepository(SessionEntity);
  }

  /** Inserts a new session row (defaults filled in by the database) and returns it. */
  insert(fields: DeepPartial<SessionEntity>, em?: EntityManager): Promise<SessionEntity> {
    const repo = this.repo(em);
    return repo.save(repo.create(fields));
  }

  /** Writes a loaded session's changed fields back. */
  save(session: SessionEntity, em?: EntityManager): Promise<SessionEntity> {
    return this.repo(em).save(session);
  }

  /** Which of these ids name a session (of `owner`, when given). */
  /**
   * Sessions whose recording can be complete (stopped, or failed after streaming) that
   * ended in [from, to), oldest first, a page at a time: `after` is the last row of the
   * page before.
   */
  async findRecordingEndedBetween(from: Date, to: Date, limit: number, after?: EndedSession): Promise<EndedSession[]> {
    const rows: Array<{ id: string; ended_at: Date }> = await this.dataSource.query(
      `SELECT id, ended_at FROM sessions
       WHERE ended_at >= $1 AND ended_at < $2 AND (status = 'stopped' OR (status = 'failed' AND started_at IS NOT NULL))
         AND ($4::timestamptz IS NULL OR (ended_at, id) > ($4, $5::uuid))
       ORDER BY ended_at, id LIMIT $3`,
      [from, to, limit, after?.endedAt ?? null, after?.id ?? null],
    );
    return rows.map((r) => ({ id: r.id, endedAt: r.ended_at }));
  }

  async existingIds(ids: string[], owner?: string | null): Promise<Set<string>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Set();
    // Plain SQL: every media batch and audio flush asks, and TypeORM's find costs several times the query.
    const rows: Array<{ id: string }> = owner
      ? await this.dataSource.query(`SELECT id FROM sessions WHERE id = ANY($1::uuid[]) AND owner = $2`, [unique, owner])
      : await this.dataSource.query(`SELECT id FROM sessions WHERE id = ANY($1::uuid[])`, [unique]);
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Adds a stream's counts to the session's received_counts in one statement (concurrent
   * streams of a session cannot lose each other's): summed per name, except the
   * MAX_MERGED_RECEIVED_COUNTS names, merged by maximum.
   */
  async addReceivedCounts(id: string, delta: ReceivedCounts): Promise<void> {
    await this.dataSource.query(
      `UPDATE sessions SET received_counts = (
         SELECT COALESCE(jsonb_object_agg(k, v), '{}'::jsonb) FROM (
           SELECT k, CASE WHEN k = ANY($3::text[]) THEN MAX(v) ELSE SUM(v) END AS v
           FROM (
             SELECT key AS k, value::numeric AS v FROM jsonb_each_text(received_counts)
             UNION ALL
             SELECT key, value::numeric FROM jsonb_each_text($2::jsonb)
           ) merged GROUP BY k
         ) totals)
       WHERE id = $1::uuid`,
      [id, JSON.stringify(delta), MAX_MERGED_RECEIVED_COUNTS],
    );
  }

  /** The session; with an `owner`, only when it is that owner's. */
  findById(id: string, em?: EntityManager, owner?: string | null): Promise<SessionEntity | null> {
    return this.repo(em).findOne({ where: owner ? { id, owner } : { id } });
  }

  /** Like findById, but a missing row throws (TypeORM's EntityNotFoundError): for ids a foreign key vouches for. */
  findByIdOrFail(id: string, em?: EntityManager): Promise<SessionEntity> {
    return this.repo(em).findOneOrFail({ where: { id } });
  }

  /**
   * Loads a session under SELECT … FOR NO KEY UPDATE, held until `em`'s transaction ends:
   * nobody else can lock the row to change it meanwhile (a legal hold, a status, another
   * delete: they wait), while rows that only reference it (timeline events, media: their
   * foreign keys take KEY SHARE) can still be inserted. Unlike FOR SHARE it is exclusive
   * among lockers, so a transaction that later deletes the row never has to upgrade a
   * lock another holder shares (two deletes sharing it and both upgrading deadlock).
   */
  findByIdForNoKeyUpdate(id: string, em: EntityManager, owner?: string | null): Promise<SessionEntity | null> {
    const qb = this.repo(em).createQueryBuilder('s').setLock('for_no_key_update').where('s.id = :id', { id });
    if (owner) qb.andWhere('s.owner = :owner', { owner });
    return qb.getOne();
  }

  /** Loads a session under a row lock (SELECT … FOR UPDATE) held until `em`'s transaction ends. */
  findByIdForUpdate(id: string, em: EntityManager, owner?: string | null): Promise<SessionEntity | null> {
    const qb = this.repo(em).createQueryBuilder('s').setLock('pessimistic_write').where('s.id = :id', { id });
    if (owner) qb.andWhere('s.owner = :owner', { owner });
    return qb.getOne();
  }

  /**
   * The session row and this module's rows its deletion cascades to, per table (in `em`'s
   * transaction, before the delete, for the deletion log).
   */
  async countCascade(id: string, em: EntityManager): Promise<Record<string, number>> {
    const [row]: Array<{ streams: number; events: number; participants: number }> = await em.query(
      `SELECT (SELECT count(*)::int FROM rtms_streams WHERE session_id = $1) AS streams,
              (SELECT count(*)::int FROM session_events WHERE session_id = $1) AS events,
              (SELECT count(*)::int FROM participants WHERE session_id = $1) AS participants`,
      [id],
    );
    return { sessions: 1, rtms_streams: row.streams, session_events: row.events, participants: row.participants };
  }

  /** True when a row was deleted (its streams, events and participants cascade). */
  async deleteById(id: string, em?: EntityManager): Promise<boolean> {
    const result = await this.repo(em).delete({ id });
    return Boolean(result.affected);
  }

  /** One keyset page of sessions, newest first: up to `limit + 1` rows (the extra one says there is more). */
  findPage(filter: SessionListFilter, limit: number, cursor?: Cursor): Promise<Array<Keyed<SessionEntity>>> {
    const qb = this.repo().createQueryBuilder('s');
    if (filter.status) qb.andWhere('s.status = :status', { status: filter.status });
    if (filter.meetingId) qb.andWhere('s.meeting_id = :meetingId', { meetingId: filter.meetingId });
    if (filter.createdFrom) qb.andWhere('s.created_at >= :from', { from: filter.createdFrom });
    if (filter.createdTo) qb.andWhere('s.created_at < :to', { to: filter.createdTo });
    if (filter.owner) qb.andWhere('s.owner = :owner', { owner: filter.owner });
    return keysetPage(qb, 's', limit, cursor);
  }

  /**
   * Serialises work on one meeting (find-or-create of its session) with a
   * transaction-scoped advisory lock, released when `em`'s transaction ends.
   */
  async lockMeeting(meetingIdentity: string, em: EntityManager): Promise<void> {
    await em.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`meeting:${meetingIdentity}`]);
  }

  /**
   * Serialises session registrations for one numeric meeting id (POST /sessions), with a
   * transaction-scoped advisory lock, so two owners cannot both pass the check below.
   */
  async lockMeetingId(meetingId: string, em: EntityManager): Promise<void> {
    await em.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`meeting-id:${meetingId}`]);
  }

  /**
   * Whether an open session of an owner other than `owner` (NULL-safe: an unscoped
   * session is another owner's too) is registered for this meeting id or uuid.
   */
  async openSessionOfAnotherOwner(meetingId: string, meetingUuid: string | null, owner: string | null, em: EntityManager): Promise<boolean> {
    const rows: unknown[] = await em.query(
      `SELECT 1 FROM sessions
        WHERE status = ANY($1::text[]) AND owner IS DISTINCT FROM $2
          AND (meeting_id = $3 OR meeting_uuid = $4)
        LIMIT 1`,
      [OPEN_SESSION_STATUSES, owner, meetingId, meetingUuid],
    );
    return rows.length > 0;
  }

  /** The newest open session already bound to this meeting uuid. */
  findLatestOpenByMeetingUuid(meetingUuid: string, em?: EntityManager): Promise<SessionEntity | null> {
    return this.repo(em).findOne({
      where: { meetingUuid, status: In(OPEN_SESSION_STATUSES) },
      order: { createdAt: 'DESC' },
    });
  }

  /** The newest open session for a numeric meeting id that has no uuid yet (or this one). */
  findLatestOpenByMeetingId(meetingId: string, meetingUuid: string, em?: EntityManager): Promise<SessionEntity | null> {
    return this.repo(em)
      .createQueryBuilder('s')
      .where('s.meeting_id = :meetingId', { meetingId })
      .andWhere('s.status IN (:...statuses)', { statuses: OPEN_SESSION_STATUSES })
      .andWhere('(s.meeting_uuid IS NULL OR s.meeting_uuid = :uuid)', { uuid: meetingUuid })
      .orderBy('s.created_at', 'DESC')
      .getOne();
  }

  /**
   * The newest session registered for this meeting (its uuid, or its numeric id and no
   * uuid yet) that failed before it ever streamed: a start Zoom refused. The app's
   * registration, still waiting for RTMS (the host may start it from the Zoom client).
   */
  findLatestFailedUnstarted(meetingUuid: string, meetingId: string | null, em?: EntityManager): Promise<SessionEntity | null> {
    const qb = this.repo(em)
      .createQueryBuilder('s')
      .where('s.status = :failed', { failed: SessionStatus.Failed })
      .andWhere('s.started_at IS NULL');
    if (meetingId) qb.andWhere('(s.meeting_uuid = :uuid OR (s.meeting_uuid IS NULL AND s.meeting_id = :meetingId))', { uuid: meetingUuid, meetingId });
    else qb.andWhere('s.meeting_uuid = :uuid', { uuid: meetingUuid });
    return qb.orderBy('s.created_at', 'DESC').getOne();
  }
}
