import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { SessionEntity } from '../../sessions';
import { ZoomCallRecord } from '../../../zoom/call/zoom-call-record';

export type RtmsAction = 'start' | 'stop' | 'pause' | 'resume';

export enum ControlRequestStatus {
  Queued = 'queued',
  Running = 'running',
  /** Waiting for a retry (429 Retry-After, 5xx or network backoff). */
  Retrying = 'retrying',
  Succeeded = 'succeeded',
  Failed = 'failed',
}

/** Whose token the PATCH is sent with. */
export enum ControlAuthMode {
  /** A user OAuth connection (connection_id). */
  User = 'user',
  /** The Server-to-Server app's account token (admin scope). */
  Account = 'account',
}

/** One RTMS start/stop/pause/resume request and its outcome at Zoom. */
@Entity({ name: 'rtms_control_requests' })
@Index('IDX_rtms_control_requests_session_created', ['sessionId', 'createdAt'])
// Replaying a request with the same Idempotency-Key finds the first one.
@Index('UQ_rtms_control_requests_idempotency', ['sessionId', 'idempotencyKey'], { unique: true, where: '"idempotency_key" IS NOT NULL' })
// At most one request in flight per session: a second one is refused with 409.
@Index('UQ_rtms_control_requests_in_flight', ['sessionId'], { unique: true, where: `"status" IN ('queued', 'running', 'retrying')` })
export class RtmsControlRequestEntity extends ZoomCallRecord {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'session_id', type: 'uuid' })
  sessionId: string;

  @ManyToOne(() => SessionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id' })
  session?: SessionEntity;

  @Column({ type: 'varchar', length: 16 })
  action: RtmsAction;

  @Column({ type: 'varchar', length: 16, default: ControlRequestStatus.Queued })
  status: ControlRequestStatus;

  @Column({ name: 'idempotency_key', type: 'varchar', length: 255, nullable: true })
  idempotencyKey: string | null;

  /** sha256 of the action and body, to tell a replay from a different request reusing a key. */
  @Column({ name: 'request_hash', type: 'varchar', length: 64 })
  requestHash: string;

  @Column({ name: 'participant_user_id', type: 'varchar', length: 128, nullable: true })
  participantUserId: string | null;

  @Column({ name: 'auth_mode', type: 'varchar', length: 16 })
  authMode: ControlAuthMode;

  /** oauth_connections.id when acting as a user (no FK: a disconnect must not erase history). */
  @Column({ name: 'connection_id', type: 'uuid', nullable: true })
  connectionId: string | null;

  @Column({ name: 'job_id', type: 'varchar', length: 128, nullable: true })
  jobId: string | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
