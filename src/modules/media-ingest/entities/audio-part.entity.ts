import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { AudioSegmentEntity } from './audio-segment.entity';
import { bigintNumber } from './bigint-transformer';

/**
 * The packets of one segment written by one audio-spool flush: their timestamps and
 * lengths, and where their PCM is (a spool file on the segment's host, at an offset; or,
 * for rows written before spool files, `pcm`). Unique per (first, last packet) so a
 * flush written twice adds nothing.
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

  @Column({ type: 'bytea', nullable: true })
  pcm: Buffer | null;

  /** File name under AUDIO_SPOOL_DIR on the segment's spool host. */
  @Column({ name: 'spool_file', type: 'varchar', length: 255, nullable: true })
  spoolFile: string | null;

  @Column({ name: 'file_offset', type: 'bigint', nullable: true, transformer: bigintNumber })
  fileOffset: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
