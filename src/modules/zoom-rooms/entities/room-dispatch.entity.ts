import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { SessionEntity } from '../../sessions';
import { ZoomCallRecord } from '../../../zoom/call/zoom-call-record';

export enum RoomDispatchStatus {
  /** room.join is queued. */
  Queued = 'queued',
  /** room.join is running or waiting for a retry (429 Retry-After, 5xx/network backoff). */
  Joining = 'joining',
  /** Zoom accepted the join; a delayed room.leave is queued unless leave_after_seconds is 0. */
  Joined = 'joined',
  /** room.leave is due, running or waiting for a retry. */
  Leaving = 'leaving',
  /** The leave went through, or the session's meeting ended (end_reason meeting_ended: no leave sent). */
  Left = 'left',
  /** Permanent failure (Zoom's 4xx, or attempts used up); see failed_step and zoom_*. */
  Failed = 'failed',
  /**
   * DELETE before the room joined, or of a failed join (a room Zoom may have joined meanwhile
   * is sent a leave: left_at); or the session's meeting ended before the room joined (end_reason).
   */
  Cancelled = 'cancelled',
}

/** A dispatch in one of these holds its room for its meeting (one active per room + meeting). */
export const ACTIVE_DISPATCH_STATUSES: readonly RoomDispatchStatus[] = [
  RoomDispatchStatus.Queued,
  RoomDispatchStatus.Joining,
  RoomDispatchStatus.Joined,
  RoomDispatchStatus.Leaving,
];

/**
 * A dispatch in one of these is over: no job of its own moves it on (a failed one moves
 * again only when retried). Retention prunes these, by their last update.
 */
export const FINISHED_DISPATCH_STATUSES: readonly RoomDispatchStatus[] = [RoomDispatchStatus.Left, RoomDispatchStatus.Failed, RoomDispatchStatus.Cancelled];

/**
 * A cancelled dispatch whose room Zoom may have in the meeting: Zoom accepted its join
 * (`joined_at`), or a join went to Zoom and got no definite refusal (`join_sent_at`: the
 * answer was lost, or the worker died before recording it), and no leave went through.
 * Such a room must be sent a leave; a cancelled dispatch whose join never reached Zoom
 * (or was refused or throttled) needs none.
 */
export const mayBeInMeeting = (d: Pick<RoomDispatchEntity, 'status' | 'joinSentAt' | 'joinedAt' | 'leftAt'>): boolean =>
  d.status === RoomDispatchStatus.Cancelled && d.leftAt === null && (d.joinedAt !== null || d.joinSentAt !== null);

/**
 * A failed join whose room Zoom may have in the meeting: a join of it went to Zoom with no
 * definite refusal (`join_sent_at`) before it failed (attempts used up on timeouts or 5xx,
 * or a later request refused), and no leave went through. DELETE sends such a room a
 * leave (the dispatch ends `cancelled`, as mayBeInMeeting) instead of refusing.
 */
export const failedJoinMayBeInMeeting = (d: Pick<RoomDispatchEntity, 'status' | 'failedStep' | 'joinSentAt' | 'joinedAt' | 'leftAt'>): boolean =>
  d.status === RoomDispatchStatus.Failed && d.failedStep === 'join' && d.leftAt === null && (d.joinedAt !== null || d.joinSentAt !== null);

export type DispatchSource = 'api' | 'auto';
export type DispatchStep = 'join' | 'leave';
/**
 * Why a dispatch ended without the hub's own leave: `meeting_ended`, its session's meeting
 * ended (RTMS stopped with STOP_BC_MEETING_ENDED), which took the room out.
 */
export type DispatchEndReason = 'meeting_ended';

/** One Zoom Room sent into one meeting (and out again), with every outcome Zoom gave. */
@Entity({ name: 'room_dispatches' })
@Index('IDX_room_dispatches_session', ['sessionId', 'createdAt'])
@Index('IDX_room_dispatches_status', ['status', 'createdAt'])
// Retention prunes finished dispatches by their last update, oldest first (RETENTION_ROOM_DISPATCHES_DAYS);
// an automatic one waits for its session to go (RoomDispatchesRepository, PRUNABLE_SQL).
@Index('IDX_room_dispatches_prunable', ['updatedAt', 'id'], { where: `status IN ('left', 'failed', 'cancelled') AND (source <> 'auto' OR session_id IS NULL)` })
// Dispatching a room into a meeting it is already (being) sent to finds the first dispatch.
@Index('UQ_room_dispatches_active', ['roomId', 'meetingNumber'], {
  unique: true,
  where: `"status" IN ('queued', 'joining', 'joined', 'leaving')`,
})
export class RoomDispatchEntity extends ZoomCallRecord {
  /** Chosen by the hub before insert: the passcode envelope is bound to it. */
  @PrimaryColumn('uuid')
  id: string;

  @Column({ name: 'room_id', type: 'varchar', length: 64 })
  roomId: string;

  @Column({ name: 'room_name', type: 'varchar', length: 256, nullable: true })
  roomName: string | null;

  @Column({ name: 'meeting_number', type: 'varchar', length: 20 })
  meetingNumber: string;

  /** TokenCipher envelope (AAD room_dispatches:<id>:passcode); never logged or returned. */
  @Column({ name: 'passcode_enc', type: 'text', nullable: true })
  passcodeEnc: string | null;

  @Column({ name: 'session_id', type: 'uuid', nullable: true })
  sessionId: string | null;

  @ManyToOne(() => SessionEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'session_id' })
  session?: SessionEntity;

  /** Owner tag (API_KEYS) of its session, or of the key that created it: only keys of this owner, and unscoped keys, see it. */
  @Index('IDX_room_dispatches_owner')
  @Column({ type: 'varchar', length: 64, nullable: true })
  owner: string | null;

  @Column({ type: 'varchar', length: 8, default: 'api' })
  source: DispatchSource;

  @Column({ type: 'varchar', length: 16, default: RoomDispatchStatus.Queued })
  status: RoomDispatchStatus;

  /** 0 = the room stays until DELETE. */
  @Column({ name: 'leave_after_seconds', type: 'int' })
  leaveAfterSeconds: number;

  /** 1, then +1 per retry; job ids carry it so each round's jobs are distinct and deterministic. */
  @Column({ type: 'int', default: 1 })
  round: number;

  @Column({ name: 'failed_step', type: 'varchar', length: 8, nullable: true })
  failedStep: DispatchStep | null;

  /**
   * When a join of this dispatch went to Zoom, while Zoom may have accepted it: written just
   * before the HTTP request (a worker can die after Zoom's 202 and before `joined_at`),
   * cleared again when Zoom throttled that request, or refused a join of the round (the room
   * is not in our meeting, whatever an earlier request did), and by a join's retry (a new
   * round). Set with `joined_at` null: the room may be in the meeting, unknown to the hub
   * (mayBeInMeeting).
   */
  @Column({ name: 'join_sent_at', type: 'timestamptz', nullable: true })
  joinSentAt: Date | null;

  @Column({ name: 'joined_at', type: 'timestamptz', nullable: true })
  joinedAt: Date | null;

  /** When the delayed room.leave is due. */
  @Column({ name: 'leave_at', type: 'timestamptz', nullable: true })
  leaveAt: Date | null;

  @Column({ name: 'left_at', type: 'timestamptz', nullable: true })
  leftAt: Date | null;

  /** Set when the dispatch ended without a leave from the hub (see DispatchEndReason); null otherwise. */
  @Column({ name: 'end_reason', type: 'varchar', length: 32, nullable: true })
  endReason: DispatchEndReason | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
