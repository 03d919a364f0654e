import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { SessionEntity } from '../../sessions';
import { bigintNumber } from './bigint-transformer';

/**
 * open: parts may arrive; final: WAV written (rewritten if a late part reopens it); sealed:
 * parts pruned; lost: its spool host never came back (workers/lost-spool-hosts.ts).
 */
export type AudioSegmentStatus = 'open' | 'final' | 'sealed' | 'lost';

/**
 * One WAV segment being assembled: PCM arrives as parts (audio_parts) from the audio
 * spool of the host that holds the stream; the segment is written out as WAV when the
 * participant's audio has moved past it or it has been idle, and written again if a
 * late part shows up.
 */
@Entity({ name: 'audio_segments' })
@Index('UQ_audio_segments_natural', ['rtmsStreamId', 'userId', 'segmentStartMs', 'spoolHost'], { unique: true })
@Index('IDX_audio_segments_open', ['status', 'lastPartAt'])
@Index('IDX_audio_segments_user_session', ['userId', 'sessionId'])
export class AudioSegmentEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'session_id', type: 'uuid' })
  sessionId: string;

  @ManyToOne(() => SessionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id' })
  session?: SessionEntity;

  @Column({ name: 'rtms_stream_id', type: 'varchar', length: 128 })
  rtmsStreamId: string;

  @Column({ name: 'user_id', type: 'varchar', length: 64 })
  userId: string;

  @Column({ name: 'user_name', type: 'varchar', length: 512, nullable: true })
  userName: string | null;

  @Column({ name: 'segment_start_ms', type: 'bigint', transformer: bigintNumber })
  segmentStartMs: number;

  @Column({ name: 'segment_ms', type: 'int' })
  segmentMs: number;

  @Column({ name: 'sample_rate', type: 'int' })
  sampleRate: number;

  @Column({ type: 'int' })
  channels: number;

  /** The host whose AUDIO_SPOOL_DIR holds this segment's PCM; only it can write the WAV. */
  @Column({ name: 'spool_host', type: 'varchar', length: 128, default: '' })
  spoolHost: string;

  @Column({ type: 'varchar', length: 16, default: 'open' })
  status: AudioSegmentStatus;

  @Column({ name: 'last_part_at', type: 'timestamptz', default: () => 'now()' })
  lastPartAt: Date;

  @Column({ name: 'artifact_id', type: 'uuid', nullable: true })
  artifactId: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
