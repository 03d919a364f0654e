import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The outbox of app events: one row per thing an app may hear about (a status change, a
 * participant, a recording ready…), written in the same transaction as the fact. The
 * delivery side (app-webhooks) fans each row out once; `fanned_out_at` says it did.
 * No foreign key to sessions: an event about a deleted session must still go out.
 */
@Entity({ name: 'app_events' })
@Index('IDX_app_events_session_id_sequence', ['sessionId', 'sequence'])
// Pruned by age, oldest first (RETENTION_APP_EVENTS_DAYS).
@Index('IDX_app_events_created_at_id', ['createdAt', 'id'])
export class AppEventEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 64 })
  type: string;

  @Column({ name: 'session_id', type: 'uuid', nullable: true })
  sessionId: string | null;

  /** Per-session order (1, 2, 3…); null for events about no session. */
  @Column({ type: 'bigint', nullable: true })
  sequence: string | null;

  /** The envelope's `data`, as delivered. */
  @Column({ type: 'jsonb' })
  data: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** When its messages were created for every subscribed endpoint (null: not yet). */
  @Index('IDX_app_events_pending_fanout', { where: 'fanned_out_at IS NULL' })
  @Column({ name: 'fanned_out_at', type: 'timestamptz', nullable: true })
  fannedOutAt: Date | null;
}
