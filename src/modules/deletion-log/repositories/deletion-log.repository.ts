import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DeletionEntryEntity } from '../entities/deletion-entry.entity';

export type NewDeletionEntry = Omit<DeletionEntryEntity, 'id' | 'createdAt'>;

/** The SQL of `deletion_log`: inserts and reads only (the table refuses anything else). */
@Injectable()
export class DeletionLogRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  insert(entry: NewDeletionEntry, em: EntityManager = this.db.manager): Promise<DeletionEntryEntity> {
    const repo = em.getRepository(DeletionEntryEntity);
    return repo.save(repo.create(entry));
  }
}
