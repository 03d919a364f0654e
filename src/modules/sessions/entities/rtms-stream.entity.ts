import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { SessionEntity } from './session.entity';

export enum StreamStatus {
  Pending = 'pending',
  Connecting = 'connecting',
  Active = 'active',
  Interrupted = 'interrupted',
  Paused = 'paused',
  Stopped = 'stopped',
  Failed = 'failed',
}

/** One RTMS stream (keyed by Zoom's rtms_stream_id) of a session. */
@Entity({ name: 'rtms_streams' })
export class RtmsStreamEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('UQ_rtms_streams_rtms_stream_id', { unique: true })
  @Column({ name: 'rtms_stream_id', type: 'varchar', length: 128 })
  rtmsStreamId: string;

  @Index('IDX_rtms_streams_session_id')
  @Column({ name: 'session_id', type: 'uuid' })
  sessionId: string;

  @ManyToOne(() => SessionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id' })
  session?: SessionEntity;

  /** Signaling URL(s) from the latest rtms_started (comma list as Zoom sends it). */
  @Column({ name: 'server_urls', type: 'text' })
  serverUrls: string;

  @Column({ type: 'varchar', length: 32, default: StreamStatus.Pending })
  status: StreamStatus;

  @Column({ name: 'owner_worker_id', type: 'varchar', length: 128, nullable: true })
  ownerWorkerId: string | null;

  @Column({ name: 'connected_at', type: 'timestamptz', nullable: true })
  connectedAt: Date | null;

  @Column({ name: 'last_keepalive_at', type: 'timestamptz', nullable: true })
  lastKeepaliveAt: Date | null;

  /** Reconnects by cause, e.g. {"failover":1,"signaling":2,"media":3,"socket_close":1}. */
  @Column({ name: 'reconnect_counts', type: 'jsonb', default: () => "'{}'" })
  reconnectCounts: Record<string, number>;

  @Column({ name: 'failover_count', type: 'int', default: 0 })
  failoverCount: number;

  @Column({ name: 'stop_reason', type: 'int', nullable: true })
  stopReason: number | null;

  @Column({ name: 'failure_reason', type: 'text', nullable: true })
  failureReason: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
