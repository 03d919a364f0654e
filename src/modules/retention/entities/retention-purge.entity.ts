import { Check, Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn, CreateDateColumn } from 'typeorm';
import { SessionEntity } from '../../sessions';

/**
 * A retention purge in progress: what one session's category has lost so far. Written
 * in the transaction of every batch, so a sweep killed halfway resumes with the counts
 * of the batches that committed, and the one deletion_log entry written at the end adds up.
 */
@Entity({ name: 'retention_purges' })
@Check('CHK_retention_purges_category', `"category" IN ('media', 'transcript', 'events')`)
export class RetentionPurgeEntity {
  @PrimaryColumn({ name: 'session_id', type: 'uuid', primaryKeyConstraintName: 'PK_retention_purges' })
  sessionId: string;

  @ManyToOne(() => SessionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id', foreignKeyConstraintName: 'FK_retention_purges_session' })
  session?: SessionEntity;

  @PrimaryColumn({ type: 'varchar', length: 16, primaryKeyConstraintName: 'PK_retention_purges' })
  category: string;

  @Column({ name: 'objects_deleted', type: 'int', default: 0 })
  objectsDeleted: number;

  @Column({ name: 'bytes_deleted', type: 'bigint', default: 0 })
  bytesDeleted: string;

  @Column({ name: 'rows_deleted', type: 'jsonb', default: () => "'{}'" })
  rowsDeleted: Record<string, number>;

  @CreateDateColumn({ name: 'started_at', type: 'timestamptz' })
  startedAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
