import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { SessionEntity } from '../../sessions';
import type { ArtifactKind } from '../storage/media-key';
import { bigintNumber } from './bigint-transformer';

/** One stored media object (frame, WAV segment, chat message) of a session. */
@Entity({ name: 'media_artifacts' })
@Index('IDX_media_artifacts_session_captured', ['sessionId', 'capturedAt', 'id'])
@Index('IDX_media_artifacts_user_session', ['userId', 'sessionId'])
export class MediaArtifactEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'session_id', type: 'uuid' })
  sessionId: string;

  @ManyToOne(() => SessionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id' })
  session?: SessionEntity;

  @Index('IDX_media_artifacts_stream')
  @Column({ name: 'rtms_stream_id', type: 'varchar', length: 128 })
  rtmsStreamId: string;

  @Column({ type: 'varchar', length: 32 })
  kind: ArtifactKind;

  @Column({ name: 'user_id', type: 'varchar', length: 64 })
  userId: string;

  @Column({ name: 'user_name', type: 'varchar', length: 512, nullable: true })
  userName: string | null;

  /** Deterministic key: a retried save lands on the same row. */
  @Index('UQ_media_artifacts_storage_key', { unique: true })
  @Column({ name: 'storage_key', type: 'varchar', length: 1024 })
  storageKey: string;

  @Column({ name: 'content_type', type: 'varchar', length: 64 })
  contentType: string;

  /** bigint: a composed recording can pass 2 GiB. */
  @Column({ type: 'bigint', transformer: bigintNumber })
  bytes: number;

  @Column({ type: 'varchar', length: 64 })
  sha256: string;

  /** Zoom's timestamp of the media (the first packet for audio). */
  @Column({ name: 'captured_at', type: 'timestamptz' })
  capturedAt: Date;

  @Column({ name: 'duration_ms', type: 'int', nullable: true })
  durationMs: number | null;

  /** Per kind: audio format and gaps, chat ids, … */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  meta: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
