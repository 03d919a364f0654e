import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type ErasureStatus = 'queued' | 'running' | 'completed' | 'failed';
export type ErasureSubjectKind = 'zoom_user_id' | 'user_email' | 'user_name';

/** What an erasure removed, per kind (the report's `counts`). */
export interface ErasureCounts {
  video_frames?: number;
  share_frames?: number;
  /** H.264 segments (only present when any were erased). */
  video_segments?: number;
  share_segments?: number;
  audio_segments?: number;
  chat_messages?: number;
  transcript_segments?: number;
  participants?: number;
  /** Zoom events of their sessions about them (meeting.participant_joined: name, email), deleted; only when any. */
  zoom_events?: number;
  /** The stream workers' events of their sessions about them (RTMS joins, speaker, sharing…), deleted; only when any. */
  worker_events?: number;
  /** Timeline events kept with their entries taken out of a list naming others too; only when any. */
  events_redacted?: number;
  /** Zoom events linked to no session that carry their user id, email or name; only when any. */
  unlinked_events?: number;
  /** App events about them (transcript.segment, participant.joined/left) and the webhook messages made of them; only when any. */
  app_events?: number;
  webhook_messages?: number;
  /** Stored objects (files / S3 objects) deleted. */
  objects?: number;
  [other: string]: number | undefined;
}

const bigintNumber = { to: (v: number) => v, from: (v: string | null) => (v === null ? 0 : Number(v)) };

/**
 * One request to erase one person's data across sessions (docs/retention.md "Erasure").
 * The subject's value is personal data: only its sha256 (normalised, with its kind) is
 * kept for good; the value itself is kept sealed with the key ring while the job runs
 * and cleared when it ends.
 */
@Entity({ name: 'erasures' })
@Index('IDX_erasures_created_at_id', ['createdAt', 'id'])
@Index('IDX_erasures_owner_created_at_id', ['owner', 'createdAt', 'id'])
@Check('CHK_erasures_status', `"status" IN ('queued', 'running', 'completed', 'failed')`)
@Check('CHK_erasures_subject_kind', `"subject_kind" IN ('zoom_user_id', 'user_email', 'user_name')`)
export class ErasureEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;

  @Column({ type: 'varchar', length: 16, default: 'queued' })
  status: ErasureStatus;

  @Column({ name: 'subject_kind', type: 'varchar', length: 16 })
  subjectKind: ErasureSubjectKind;

  /** sha256 hex of `kind:normalised value`: tells two requests for the same person apart from others, for audit. */
  @Column({ name: 'subject_hash', type: 'varchar', length: 64 })
  subjectHash: string;

  /** The value sealed with the key ring (TokenCipher) while the job needs it; null once it ended. */
  @Column({ name: 'subject_sealed', type: 'text', nullable: true })
  subjectSealed: string | null;

  /** Fingerprint of the API key that asked. */
  @Column({ name: 'requested_by', type: 'varchar', length: 64, nullable: true })
  requestedBy: string | null;

  /** Owner tag of the key that asked: the erasure reaches only that owner's sessions (null: every session). */
  @Column({ type: 'varchar', length: 64, nullable: true })
  owner: string | null;

  /** An email that names no participant: nothing could be matched. */
  @Column({ name: 'subject_unresolved', type: 'boolean', default: false })
  subjectUnresolved: boolean;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  counts: ErasureCounts;

  @Column({ name: 'bytes_deleted', type: 'bigint', default: 0, transformer: bigintNumber })
  bytesDeleted: number;

  /** Sessions whose data of the person was (at least partly) deleted. */
  @Column({ name: 'sessions_affected', type: 'uuid', array: true, default: () => "'{}'" })
  sessionsAffected: string[];

  /** Sessions under legal hold that hold data of the person: left as they are. */
  @Column({ name: 'sessions_held', type: 'uuid', array: true, default: () => "'{}'" })
  sessionsHeld: string[];

  /** Sessions whose mixed audio (one track of everyone) may hold the person: not split, for a human to decide. */
  @Column({ name: 'mixed_audio_sessions', type: 'uuid', array: true, default: () => "'{}'" })
  mixedAudioSessions: string[];

  /** Open audio segments of the person (still in a worker's spool) that were dropped before their WAV was written. */
  @Column({ name: 'spool_segments_dropped', type: 'int', default: 0 })
  spoolSegmentsDropped: number;

  @Column({ type: 'text', nullable: true })
  error: string | null;
}
