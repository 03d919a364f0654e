import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { Cursor } from '../../../common/http/pagination';
import { Keyed, keysetPage } from '../../../common/http/keyset-page';
import { returningRows } from '../../../database/returning-rows';
import { ErasureCounts, ErasureEntity, ErasureSubjectKind } from './entities/erasure.entity';

export interface NewErasure {
  id: string;
  subjectKind: ErasureSubjectKind;
  subjectHash: string;
  subjectSealed: string;
  requestedBy: string | null;
  owner: string | null;
}

/** What erasing one session added to an erasure's report. */
export interface SessionProgress {
  counts: ErasureCounts;
  bytes: number;
  spoolSegmentsDropped: number;
}

/** Where the sweeper's keyset paging over unfinished erasures stands. */
export interface UnfinishedErasure {
  id: string;
  /** updated_at as Postgres prints it: microseconds kept (a Date would cut them, and the page could repeat). */
  updatedAt: string;
}

/** The SQL of `erasures`. Progress is added in the transaction that deletes, so a re-run never counts twice. */
@Injectable()
export class ErasuresRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  private repo(em: EntityManager = this.db.manager) {
    return em.getRepository(ErasureEntity);
  }

  async insert(row: NewErasure): Promise<ErasureEntity> {
    return this.repo().save(this.repo().create({ ...row, status: 'queued' }));
  }

  /** One erasure; with `owner` set, only if it is that owner's. */
  findOne(id: string, owner?: string | null): Promise<ErasureEntity | null> {
    return this.repo().findOne({ where: owner ? { id, owner } : { id } });
  }

  /** Newest first, keyset over (created_at, id); an owner-scoped caller sees only their owner's. */
  findPage(owner: string | null, limit: number, cursor?: Cursor): Promise<Array<Keyed<ErasureEntity>>> {
    const qb = this.repo().createQueryBuilder('e');
    if (owner) qb.where('e.owner = :owner', { owner });
    return keysetPage(qb, 'e', limit, cursor);
  }

  /**
   * Erasures still `queued` or `running` whose row has not changed for `olderThanMs`
   * (Postgres' clock), oldest first, `limit` at a time after `after` (the last of the
   * previous page): candidates for the sweeper, which re-queues those whose job is gone
   * or finished.
   */
  async findUnfinished(olderThanMs: number, limit: number, after?: UnfinishedErasure): Promise<UnfinishedErasure[]> {
    const rows: Array<{ id: string; updated_at: string }> = await this.db.query(
      `SELECT id, updated_at::text AS updated_at FROM erasures
        WHERE status IN ('queued', 'running') AND updated_at < now() - ($1::int * interval '1 millisecond')
          AND ($3::timestamptz IS NULL OR (updated_at, id) > ($3::timestamptz, $4::uuid))
        ORDER BY updated_at, id LIMIT $2`,
      [olderThanMs, limit, after?.updatedAt ?? null, after?.id ?? null],
    );
    return rows.map((r) => ({ id: r.id, updatedAt: r.updated_at }));
  }

  /**
   * queued → running (started_at kept from the first run). A row already `running` is
   * taken as well: a retry, or a re-run the sweeper queued for an abandoned erasure
   * (ErasureSweeper). False: not queued or running any more.
   */
  async markRunning(id: string): Promise<boolean> {
    const rows = await returningRows<{ id: string }>(
      this.db.query(
        `UPDATE erasures SET status = 'running', started_at = COALESCE(started_at, now()), updated_at = now()
          WHERE id = $1 AND status IN ('queued', 'running') RETURNING id`,
        [id],
      ),
    );
    return rows.length > 0;
  }

  async markUnresolved(id: string): Promise<void> {
    await this.db.query(`UPDATE erasures SET subject_unresolved = true, updated_at = now() WHERE id = $1`, [id]);
  }

  /** Adds one session's deletions to the report (in the deleting transaction); null: rows of no session (unlinked events). */
  async addProgress(id: string, sessionId: string | null, p: SessionProgress, em: EntityManager): Promise<void> {
    await em.query(
      `UPDATE erasures SET
         counts = COALESCE((SELECT jsonb_object_agg(k, COALESCE((counts->>k)::bigint, 0) + COALESCE(($3::jsonb->>k)::bigint, 0))
                              FROM (SELECT jsonb_object_keys(counts) UNION SELECT jsonb_object_keys($3::jsonb)) AS t(k)), '{}'::jsonb),
         bytes_deleted = bytes_deleted + $4::bigint,
         spool_segments_dropped = spool_segments_dropped + $5::int,
         sessions_affected = CASE WHEN $2::uuid IS NULL OR $2::uuid = ANY(sessions_affected) THEN sessions_affected ELSE array_append(sessions_affected, $2::uuid) END,
         updated_at = now()
       WHERE id = $1`,
      [id, sessionId, JSON.stringify(p.counts), p.bytes, p.spoolSegmentsDropped],
    );
  }

  async addHeld(id: string, sessionId: string, em: EntityManager = this.db.manager): Promise<void> {
    await em.query(
      `UPDATE erasures SET sessions_held = CASE WHEN $2::uuid = ANY(sessions_held) THEN sessions_held ELSE array_append(sessions_held, $2::uuid) END, updated_at = now() WHERE id = $1`,
      [id, sessionId],
    );
  }

  async addMixedAudio(id: string, sessionId: string): Promise<void> {
    await this.db.query(
      `UPDATE erasures SET mixed_audio_sessions = CASE WHEN $2::uuid = ANY(mixed_audio_sessions) THEN mixed_audio_sessions ELSE array_append(mixed_audio_sessions, $2::uuid) END, updated_at = now() WHERE id = $1`,
      [id, sessionId],
    );
  }

  /** The job is over: completed or failed, and the sealed subject is cleared either way. */
  async finish(id: string, status: 'completed' | 'failed', error: string | null = null): Promise<void> {
    await this.db.query(
      `UPDATE erasures SET status = $2, error = $3, subject_sealed = NULL, finished_at = now(), updated_at = now() WHERE id = $1 AND status IN ('queued', 'running')`,
      [id, status, error],
    );
  }
}
