import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { AudioSegmentEntity } from './audio-segment.entity';
import { bigintNumber } from './bigint-transformer';

/** Raw PCM of consecutive packets of one segment from one batch job; unique per first packet so retries add nothing. */
@Entity({ name: 'audio_parts' })
@Index('UQ_audio_parts_segment_first_ts', ['segmentId', 'firstTs'], { unique: true })
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
