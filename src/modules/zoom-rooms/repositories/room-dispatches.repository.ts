import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { RoomDispatchEntity, RoomDispatchStatus } from '../entities/room-dispatch.entity';

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
}
