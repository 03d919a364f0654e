import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { SessionEntity } from './session.entity';

export enum EventSource {
  Webhook = 'webhook',
  EventWebSocket = 'event_ws',
  Worker = 'worker',
  Api = 'api',
}

export enum EventProcessingStatus {
  Received = 'received',
  Processed = 'processed',
  Ignored = 'ignored',
  Rejected = 'rejected',
  Failed = 'failed',
}

/**
 * Everything that happened to a session: verified Zoom events (stored before they are
 * acknowledged), worker observations and API actions. dedupe_key makes redelivery safe.
 */
@Entity({ name: 'session_events' })
@Index('IDX_session_events_session_id_created_at', ['sessionId', 'createdAt'])
// Unlinked events go by age (docs/retention.md); linked ones with their session.
@Index('IDX_session_events_unlinked_created_at', ['createdAt'], { where: 'session_id IS NULL' })
// The pending-events sweeper's look every minute: only the few rows still waiting.
@Index('IDX_session_events_received_created_at', ['createdAt'], { where: "status = 'received'" })
export class SessionEventEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'session_id', type: 'uuid', nullable: true })
  sessionId: string | null;

  @ManyToOne(() => SessionEntity, { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'session_id' })
  session?: SessionEntity;

  @Column({ type: 'varchar', length: 16 })
  source: EventSource;

  @Index('IDX_session_events_event_type')
  @Column({ name: 'event_type', type: 'varchar', length: 128 })
  eventType: string;

  @Index('UQ_session_events_dedupe_key', { unique: true })
  @Column({ name: 'dedupe_key', type: 'varchar', length: 128 })
  dedupeKey: string;

  @Index('IDX_session_events_rtms_stream_id')
  @Column({ name: 'rtms_stream_id', type: 'varchar', length: 128, nullable: true })
  rtmsStreamId: string | null;

  /** Zoom's event_ts (ms), when the event came from Zoom. */
  @Column({ name: 'event_ts', type: 'bigint', nullable: true })
  eventTs: string | null;

  @Column({ type: 'jsonb' })
  payload: Record<string, unknown>;

  @Column({ type: 'varchar', length: 16, default: EventProcessingStatus.Received })
  status: EventProcessingStatus;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'processed_at', type: 'timestamptz', nullable: true })
  processedAt: Date | null;
}
