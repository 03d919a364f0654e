import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { SessionEntity } from '../../sessions';
import { bigintNumber } from './bigint-transformer';

/** One transcript line (RTMS msg 17). Unique per stream/user/timestamp/start so a retried save never duplicates it. */
@Entity({ name: 'transcript_segments' })
@Index('UQ_transcript_segments_natural', ['rtmsStreamId', 'userId', 'timestampMs', 'startMs'], { unique: true })
@Index('IDX_transcript_segments_session_start', ['sessionId', 'startMs'])
@Index('IDX_transcript_segments_user_session', ['userId', 'sessionId'])
export class TranscriptSegmentEntity {
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

  @Column({ type: 'text' })
  text: string;

  @Column({ name: 'start_ms', type: 'bigint', transformer: bigintNumber })
  startMs: number;

  @Column({ name: 'end_ms', type: 'bigint', transformer: bigintNumber })
  endMs: number;

  @Column({ name: 'timestamp_ms', type: 'bigint', transformer: bigintNumber })
  timestampMs: number;

  @Column({ type: 'int', nullable: true })
  language: number | null;

  @Column({ type: 'int', nullable: true })
  attribute: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
