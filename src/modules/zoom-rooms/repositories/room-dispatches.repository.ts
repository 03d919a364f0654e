import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { returningRows } from '../../../database/returning-rows';
import { FINISHED_DISPATCH_STATUSES, RoomDispatchEntity, RoomDispatchStatus } from '../entities/room-dispatch.entity';

/**
 * What retention may prune: a finished dispatch, unless it is an automatic one whose
 * session is still there — rooms.auto-dispatch sends each room once per session by the
 * automatic dispatches it finds (the session's capture policy holds the same rooms and
 * sealed passcode). Written out, not parameters: the planner matches it to the partial
 * index IDX_room_dispatches_prunable (migration 1796800000000 has the same text).
 */
const PRUNABLE_SQL = `status IN (${FINISHED_DISPATCH_STATUSES.map((s) => `'${s}'`).join(', ')}) AND (source <> 'auto' OR session_id IS NULL)`;

/** A prunable dispatch as the retention sweep pages through them. */
export interface FinishedDispatch {
  id: string;
  round: number;
  /** `updated_at` as Postgres writes it, to the microsecond (a Date would cut it to the millisecond): the keyset cursor. */
  updatedAt: string;
}

/** The SQL of `room_dispatches` that is more than a find or an update by id. */
@Injectable()
export class RoomDispatchesRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  private get repo(): Repository<RoomDispatchEntity> {
    return this.db.getRepository(RoomDispatchEntity);
  }

  /** How many dispatches are in each status (statuses without any are left out). */
  async countByStatus(): Promise<Map<RoomDispatchStatus, number>> {
    const rows = await this.repo.createQueryBuilder('d').select('d.status', 'status').addSelect('COUNT(*)', 'n').groupBy('d.status').getRawMany<{ status: RoomDispatchStatus; n: string }>();
    return new Map(rows.map((r) => [r.status, Number(r.n)]));
  }

  /**
   * Inserts the dispatch unless the room already has an active one to the same meeting
   * (the unique partial index decides, so two processes cannot both insert). Returns
   * whether this row was inserted.
   */
  async insertUnlessActive(row: QueryDeepPartialEntity<RoomDispatchEntity> & { id: string }): Promise<boolean> {
    const inserted = await this.repo.createQueryBuilder().insert().into(RoomDispatchEntity).values(row).orIgnore().returning('id').execute();
    return (inserted.raw as unknown[]).length > 0;
  }

  /**
   * Up to `limit` prunable dispatches (PRUNABLE_SQL) last updated more than `days` ago,
   * after `after` in (updated_at, id) order, oldest first (IDX_room_dispatches_prunable).
   */
  async findFinishedOlderThan(days: number, after: Pick<FinishedDispatch, 'updatedAt' | 'id'> | null, limit: number): Promise<FinishedDispatch[]> {
    const rows: Array<{ id: string; round: number; updated_text: string }> = await this.db.query(
      `SELECT id, round, updated_at::text AS updated_text FROM room_dispatches
        WHERE ${PRUNABLE_SQL} AND updated_at < now() - make_interval(secs => $1::float8)
          AND ($2::timestamptz IS NULL OR (updated_at, id) > ($2::timestamptz, $3::uuid))
        ORDER BY updated_at, id LIMIT $4::int`,
      [days * 86400, after?.updatedAt ?? null, after?.id ?? null, limit],
    );
    return rows.map((r) => ({ id: r.id, round: r.round, updatedAt: r.updated_text }));
  }

  /**
   * Deletes these dispatches, each only if it is still prunable and last updated more than
   * `days` ago: the DELETE re-checks the locked row, so one that a retry moved on (or any
   * update touched) since it was picked stays. Returns how many went.
   */
  async deleteFinishedOlderThan(ids: string[], days: number): Promise<number> {
    if (ids.length === 0) return 0;
    const rows = await returningRows<{ id: string }>(
      this.db.query(
        `DELETE FROM room_dispatches WHERE id = ANY($1::uuid[]) AND ${PRUNABLE_SQL} AND updated_at < now() - make_interval(secs => $2::float8) RETURNING id`,
        [ids, days * 86400],
      ),
    );
    return rows.length;
  }
}
