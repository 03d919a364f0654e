import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Why something was deleted (the values are stored and shown by the API). */
export enum DeletionReason {
  Retention = 'retention',
  SessionDeleted = 'session_deleted',
  StreamRevoked = 'stream_revoked',
  Erasure = 'erasure',
}

/** Who asked: the hub itself (retention), an API key, or Zoom (a revoked stream). */
export enum DeletionActor {
  System = 'system',
  ApiKey = 'api_key',
  Zoom = 'zoom',
}

/**
 * One deletion, kept for good: `deletion_log` is append-only (a trigger refuses UPDATE
 * and DELETE) and has no foreign keys, so it outlives the sessions it describes.
 */
@Entity({ name: 'deletion_log' })
@Check('CHK_deletion_log_reason', `"reason" IN ('retention', 'session_deleted', 'stream_revoked', 'erasure')`)
@Check('CHK_deletion_log_actor', `"actor" IN ('system', 'api_key', 'zoom')`)
@Index('IDX_deletion_log_created_at_id', ['createdAt', 'id'])
@Index('IDX_deletion_log_session_created_at_id', ['sessionId', 'createdAt', 'id'])
@Index('IDX_deletion_log_reason_created_at_id', ['reason', 'createdAt', 'id'])
@Index('IDX_deletion_log_owner_created_at_id', ['owner', 'createdAt', 'id'])
export class DeletionEntryEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ type: 'varchar', length: 32 })
  reason: DeletionReason;

  @Column({ name: 'session_id', type: 'uuid', nullable: true })
  sessionId: string | null;

  @Column({ name: 'rtms_stream_id', type: 'varchar', length: 128, nullable: true })
  rtmsStreamId: string | null;

  @Column({ name: 'erasure_id', type: 'uuid', nullable: true })
  erasureId: string | null;

  /** What kinds of data went: media, transcript, chat, events, participants, session. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  categories: string[];

  /** Stored objects (files / S3 objects) deleted. */
  @Column({ name: 'objects_deleted', type: 'int', default: 0 })
  objectsDeleted: number;

  @Column({ name: 'bytes_deleted', type: 'bigint', default: 0, transformer: { to: (v: number) => v, from: (v: string | null) => (v === null ? 0 : Number(v)) } })
  bytesDeleted: number;

  /** Rows deleted per table, e.g. {"media_artifacts": 12, "transcript_segments": 3}. */
  @Column({ name: 'rows_deleted', type: 'jsonb', default: () => "'{}'" })
  rowsDeleted: Record<string, number>;

  @Column({ type: 'varchar', length: 16 })
  actor: DeletionActor;

  /** The API key's fingerprint when an API key asked (never the key). */
  @Column({ name: 'api_key_fingerprint', type: 'varchar', length: 64, nullable: true })
  apiKeyFingerprint: string | null;

  /** Owner tag of the deleted session (owner-scoped API keys list only their own deletions). */
  @Column({ type: 'varchar', length: 64, nullable: true })
  owner: string | null;

  /** Anything else worth keeping (policy days, cut-off time, erasure subject kind…); never personal data. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  details: Record<string, unknown>;
}
