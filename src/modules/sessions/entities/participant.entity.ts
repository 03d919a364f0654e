import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { SessionEntity } from './session.entity';

/** A Zoom participant seen in a session's streams. */
@Entity({ name: 'participants' })
@Index('UQ_participants_session_user', ['sessionId', 'zoomUserId'], { unique: true })
@Index('IDX_participants_user', ['zoomUserId'])
export class ParticipantEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'session_id', type: 'uuid' })
  sessionId: string;

  @ManyToOne(() => SessionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id' })
  session?: SessionEntity;

  @Column({ name: 'zoom_user_id', type: 'varchar', length: 64 })
  zoomUserId: string;

  @Column({ name: 'user_name', type: 'varchar', length: 512, nullable: true })
  userName: string | null;

  /** From Zoom's meeting.participant_joined webhook (RTMS carries none); lower-cased. */
  @Index('IDX_participants_email')
  @Column({ type: 'varchar', length: 320, nullable: true })
  email: string | null;

  @Column({ name: 'joined_at', type: 'timestamptz', nullable: true })
  joinedAt: Date | null;

  @Column({ name: 'left_at', type: 'timestamptz', nullable: true })
  leftAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
