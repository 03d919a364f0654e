import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { keysetPage, Keyed } from '../../../common/http/keyset-page';
import { Cursor } from '../../../common/http/pagination';
import { DeletionEntryEntity, DeletionReason } from '../entities/deletion-entry.entity';

export type NewDeletionEntry = Omit<DeletionEntryEntity, 'id' | 'createdAt'>;

/** What GET /deletions filters by. */
export interface DeletionListFilter {
  sessionId?: string;
  reason?: DeletionReason;
  /** Created at or after (RFC 3339). */
  createdFrom?: string;
  /** Created before (RFC 3339). */
  createdTo?: string;
  /** Only deletions of this owner's sessions. */
  owner?: string;
}

/** The SQL of `deletion_log`: inserts and reads only (the table refuses anything else). */
@Injectable()
export class DeletionLogRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  insert(entry: NewDeletionEntry, em: EntityManager = this.db.manager): Promise<DeletionEntryEntity> {
    const repo = em.getRepository(DeletionEntryEntity);
    return repo.save(repo.create(entry));
  }

  /** The entry; with an `owner`, only when it is that owner's. */
  findById(id: string, owner?: string | null): Promise<DeletionEntryEntity | null> {
    return this.db.getRepository(DeletionEntryEntity).findOne({ where: owner ? { id, owner } : { id } });
  }

  /** One keyset page, newest first: up to `limit + 1` rows (the extra one says there is more). */
  findPage(filter: DeletionListFilter, limit: number, cursor?: Cursor): Promise<Array<Keyed<DeletionEntryEntity>>> {
    const qb = this.db.getRepository(DeletionEntryEntity).createQueryBuilder('d');
    if (filter.sessionId) qb.andWhere('d.session_id = CAST(:sessionId AS uuid)', { sessionId: filter.sessionId });
    if (filter.reason) qb.andWhere('d.reason = :reason', { reason: filter.reason });
    if (filter.createdFrom) qb.andWhere('d.created_at >= CAST(:from AS timestamptz)', { from: filter.createdFrom });
    if (filter.createdTo) qb.andWhere('d.created_at < CAST(:to AS timestamptz)', { to: filter.createdTo });
    if (filter.owner) qb.andWhere('d.owner = :owner', { owner: filter.owner });
    return keysetPage(qb, 'd', limit, cursor);
  }
}
