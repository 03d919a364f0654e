import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { AudioSegmentEntity } from './audio-segment.entity';
import { bigintNumber } from './bigint-transformer';

/**
 * Raw PCM of the packets of one segment written by one audio-spool flush; unique per
 * (first, last packet) so a flush written twice adds nothing.
 */
@Entity({ name: 'audio_parts' })
@Index('UQ_audio_parts_segment_span', ['segmentId', 'firstTs', 'lastTs'], { unique: true })
export class AudioPartEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'segment_id', type: 'uuid' })
  segmentId: string;

  @ManyToOne(() => AudioSegmentEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'segment_id' })
  segment?: AudioSegmentEntity;

  @Column({ name: 'first_ts', type: 'bigint', transformer: bigintNumber })
  firstTs: number;

  @Column({ name: 'last_ts', type: 'bigint', transformer: bigintNumber })
  lastTs: number;

  /** Zoom timestamp of each packet, in order. */
  @Column({ name: 'packet_ts', type: 'bigint', array: true })
  packetTs: string[];

  /** Byte length of each packet, in order. */
  @Column({ name: 'packet_len', type: 'int', array: true })
  packetLen: number[];

  @Column({ type: 'bytea' })
  pcm: Buffer;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
