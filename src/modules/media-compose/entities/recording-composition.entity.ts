import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { SessionEntity } from '../../sessions';

export type CompositionState = 'queued' | 'running' | 'done' | 'failed';

/**
 * A session's composed recording as a job: the latest revision asked for (it names the
 * re-compose job, so two requests while one waits are one job), where it is, and the
 * last error. The recording itself is a media_artifacts row (kind 'recording').
 */
@Entity({ name: 'recording_compositions' })
export class RecordingCompositionEntity {
  @PrimaryColumn({ name: 'session_id', type: 'uuid', primaryKeyConstraintName: 'PK_recording_compositions' })
  sessionId: string;

  @ManyToOne(() => SessionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id', foreignKeyConstraintName: 'FK_recording_compositions_session' })
  session?: SessionEntity;

  /** 0: only the automatic composition so far; n: the n-th re-compose asked for. */
  @Column({ type: 'int', default: 0 })
  revision: number;

  @Column({ type: 'varchar', length: 16, default: 'queued' })
  state: CompositionState;

  /** `{code, message}` of the last failure (null after a success). */
  @Column({ type: 'jsonb', nullable: true })
  error: { code: string; message: string } | null;

  /** The recording's artifact (media_artifacts.id) once composed. */
  @Column({ name: 'artifact_id', type: 'uuid', nullable: true })
  artifactId: string | null;

  @Column({ name: 'requested_at', type: 'timestamptz', default: () => 'now()' })
  requestedAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
