import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { WebhookEndpointEntity } from './webhook-endpoint.entity';

export enum WebhookMessageStatus {
  /** Waiting for its next attempt (the first, or a retry at next_attempt_at). */
  Pending = 'pending',
  Succeeded = 'succeeded',
  /** Every scheduled attempt failed, or the endpoint was disabled. */
  Failed = 'failed',
}

/**
 * One event for one endpoint. Its id is the `webhook-id` of every attempt; the body is
 * frozen when the message is created, so a resend is byte-identical. Stored before its
 * first job is queued: Redis can lose the job, never the message.
 */
@Entity({ name: 'webhook_messages' })
@Index('UQ_webhook_messages_endpoint_event', ['endpointId', 'eventId'], { unique: true })
@Index('IDX_webhook_messages_endpoint_created', ['endpointId', 'createdAt'])
@Index('IDX_webhook_messages_due', ['nextAttemptAt'], { where: "status = 'pending'" })
// A deleted app event takes its messages along (no foreign key: a test ping has no app event).
@Index('IDX_webhook_messages_event_id', ['eventId'])
// Finished messages are pruned by age (RETENTION_WEBHOOK_MESSAGES_DAYS); pending ones wait for their delivery.
@Index('IDX_webhook_messages_finished_created', ['createdAt'], { where: "status <> 'pending'" })
export class WebhookMessageEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column({ name: 'endpoint_id', type: 'uuid' })
  endpointId: string;

  @ManyToOne(() => WebhookEndpointEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'endpoint_id' })
  endpoint?: WebhookEndpointEntity;

  /** app_events.id (or, for a test ping, an id of its own). */
  @Column({ name: 'event_id', type: 'uuid' })
  eventId: string;

  @Column({ name: 'event_type', type: 'varchar', length: 64 })
  eventType: string;

  /** The JSON body exactly as sent: `{type, id, timestamp, data}`. */
  @Column({ type: 'text' })
  body: string;

  @Column({ type: 'varchar', length: 16, default: WebhookMessageStatus.Pending })
  status: WebhookMessageStatus;

  /** Attempts made so far (every attempt of this message carries the same webhook-id). */
  @Column({ type: 'int', default: 0 })
  attempts: number;

  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true })
  nextAttemptAt: Date | null;

  @Column({ name: 'last_status_code', type: 'int', nullable: true })
  lastStatusCode: number | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'delivered_at', type: 'timestamptz', nullable: true })
  deliveredAt: Date | null;
}
