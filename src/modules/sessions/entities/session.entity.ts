import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';

export enum SessionStatus {
  Created = 'created',
  RtmsStartRequested = 'rtms_start_requested',
  Streaming = 'streaming',
  Paused = 'paused',
  Stopped = 'stopped',
  Failed = 'failed',
}

/** Which Zoom product the stream belongs to; decides the id sent in handshakes. */
export enum ZoomProduct {
  Meeting = 'meeting',
  Webinar = 'webinar',
  VideoSdk = 'video_sdk',
  ContactCenter = 'contact_center',
}

/** One capture of one meeting (or webinar / Video SDK session). */
@Entity({ name: 'sessions' })
@Index('IDX_sessions_created_at_id', ['createdAt', 'id'])
@Index('IDX_sessions_owner_created_at_id', ['owner', 'createdAt', 'id'])
// The retention sweep's work lists: unheld sessions whose category is not purged yet, oldest clock first.
@Index('IDX_sessions_retention_media', ['retentionFrom', 'id'], { where: 'legal_hold_at IS NULL AND media_purged_at IS NULL AND retention_from IS NOT NULL' })
@Index('IDX_sessions_retention_transcript', ['retentionFrom', 'id'], { where: 'legal_hold_at IS NULL AND transcript_purged_at IS NULL AND retention_from IS NOT NULL' })
@Index('IDX_sessions_retention_events', ['retentionFrom', 'id'], { where: 'legal_hold_at IS NULL AND events_purged_at IS NULL AND retention_from IS NOT NULL' })
@Index('IDX_sessions_retention_override', ['retentionFrom', 'id'], {
  where: `legal_hold_at IS NULL AND retention_from IS NOT NULL AND ((capture_policy->'retention'->>'media_days') IS NOT NULL OR (capture_policy->'retention'->>'transcript_days') IS NOT NULL OR (capture_policy->'retention'->>'events_days') IS NOT NULL)`,
})
export class SessionEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 16, default: 'zoom' })
  platform: string;

  @Column({ type: 'varchar', length: 32, default: ZoomProduct.Meeting })
  product: ZoomProduct;

  /** Numeric Zoom meeting id (int64, kept as text). */
  @Index('IDX_sessions_meeting_id')
  @Column({ name: 'meeting_id', type: 'varchar', length: 32, nullable: true })
  meetingId: string | null;

  /** meeting_uuid / webinar_uuid / session_id exactly as Zoom sent it. */
  @Index('IDX_sessions_meeting_uuid')
  @Column({ name: 'meeting_uuid', type: 'varchar', length: 256, nullable: true })
  meetingUuid: string | null;

  @Index('IDX_sessions_status')
  @Column({ type: 'varchar', length: 32, default: SessionStatus.Created })
  status: SessionStatus;

  @Column({ name: 'stop_reason', type: 'int', nullable: true })
  stopReason: number | null;

  @Column({ name: 'stop_reason_name', type: 'varchar', length: 64, nullable: true })
  stopReasonName: string | null;

  @Column({ name: 'failure_reason', type: 'text', nullable: true })
  failureReason: string | null;

  @Column({ name: 'capture_policy', type: 'jsonb', default: () => "'{}'" })
  capturePolicy: Record<string, unknown>;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata: Record<string, unknown>;

  /**
   * What the session's streams received (received-counts.ts): written only by
   * SessionsRepository.addReceivedCounts (a merge in SQL), never by an entity save, which
   * could put back a value it loaded before a stream added to it.
   */
  @Column({ name: 'received_counts', type: 'jsonb', default: () => "'{}'", update: false })
  receivedCounts: Record<string, number>;

  /** Owner tag of the API key that created it (API_KEYS); null: created by an unscoped key or by Zoom's webhooks. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  owner: string | null;

  /** Legal hold: while set, retention and erasure leave the session's data alone. */
  @Column({ name: 'legal_hold_at', type: 'timestamptz', nullable: true })
  legalHoldAt: Date | null;

  @Column({ name: 'legal_hold_reason', type: 'varchar', length: 512, nullable: true })
  legalHoldReason: string | null;

  /** Fingerprint of the API key that placed the hold. */
  @Column({ name: 'legal_hold_by', type: 'varchar', length: 64, nullable: true })
  legalHoldBy: string | null;

  /**
   * When the retention clock started: the session's end, or its creation while it never
   * streamed; null while it streams or is paused (never purged). See retention-clock.ts.
   */
  @Column({ name: 'retention_from', type: 'timestamptz', nullable: true, default: () => 'now()' })
  retentionFrom: Date | null;

  /** What the retention sweep has purged (null: not yet). */
  @Column({ name: 'media_purged_at', type: 'timestamptz', nullable: true })
  mediaPurgedAt: Date | null;

  @Column({ name: 'transcript_purged_at', type: 'timestamptz', nullable: true })
  transcriptPurgedAt: Date | null;

  @Column({ name: 'events_purged_at', type: 'timestamptz', nullable: true })
  eventsPurgedAt: Date | null;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Index('IDX_sessions_ended_at')
  @Column({ name: 'ended_at', type: 'timestamptz', nullable: true })
  endedAt: Date | null;

  /** Optimistic-lock counter; status changes also take a row lock. */
  @VersionColumn()
  version: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
