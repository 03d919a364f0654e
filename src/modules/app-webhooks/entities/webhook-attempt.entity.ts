import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { WebhookMessageEntity } from './webhook-message.entity';

/** What started an attempt. */
export enum WebhookAttemptTrigger {
  Scheduled = 'scheduled',
  Resend = 'resend',
  Recover = 'recover',
}

/** One HTTP attempt of a message: when, what came back, how long it took. */
@Entity({ name: 'webhook_attempts' })
@Index('IDX_webhook_attempts_message', ['messageId', 'attemptNo'])
export class WebhookAttemptEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column({ name: 'message_id', type: 'uuid' })
  messageId: string;

  @ManyToOne(() => WebhookMessageEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'message_id' })
  message?: WebhookMessageEntity;

  @Column({ name: 'attempt_no', type: 'int' })
  attemptNo: number;

  @Column({ type: 'varchar', length: 16 })
  trigger: WebhookAttemptTrigger;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt: Date;

  /** The HTTP status, or null when no answer came (refused, timeout, blocked address). */
  @Column({ name: 'status_code', type: 'int', nullable: true })
  statusCode: number | null;

  @Column({ name: 'latency_ms', type: 'int' })
  latencyMs: number;

  /** The first 4 KB of the response body. */
  @Column({ name: 'response_body', type: 'text', nullable: true })
  responseBody: string | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;
}
