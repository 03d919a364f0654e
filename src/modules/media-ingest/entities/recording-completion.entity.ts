import { Column, CreateDateColumn, Entity, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';
import { SessionEntity } from '../../sessions';

/**
 * A session whose recording was announced complete (`recording.ready`): at most one row
 * per session, inserted in the transaction that records the event, so two checks
 * racing each other cannot both announce it (the second finds the key taken).
 */
@Entity({ name: 'recording_completions' })
export class RecordingCompletionEntity {
  @PrimaryColumn({ name: 'session_id', type: 'uuid' })
  sessionId: string;

  @OneToOne(() => SessionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id' })
  session?: SessionEntity;

  /** The counts announced. */
  @Column({ type: 'jsonb' })
  counts: Record<string, number>;

  /** True when the bounded wait ran out and it was announced with what was there. */
  @Column({ type: 'boolean', default: false })
  forced: boolean;

  /** What was still pending when forced: `{holds: [...], open_audio_segments: n}`. */
  @Column({ type: 'jsonb', nullable: true })
  pending: Record<string, unknown> | null;

  /** The app event (app_events.id) that announced it. */
  @Column({ name: 'event_id', type: 'uuid', nullable: true })
  eventId: string | null;

  /**
   * null: announced at capture completion (no composition). 'pending': capture complete, the
   * media-compose job announces it; 'done' / 'failed': the job announced it.
   */
  @Column({ name: 'compose_state', type: 'varchar', length: 16, nullable: true })
  composeState: 'pending' | 'done' | 'failed' | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
