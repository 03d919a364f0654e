import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, FindOptionsWhere, IsNull, Repository } from 'typeorm';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { jobIdFor } from '../../jobs/job-ids';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { AppEventsService, AppEventType } from '../app-events';
import { EventSource, SessionEntity, SessionEventsService, SessionNotFoundError, SessionsService } from '../sessions';
import { DispatchEndReason, failedJoinMayBeInMeeting, mayBeInMeeting, RoomDispatchEntity, RoomDispatchStatus } from './entities/room-dispatch.entity';
import { RoomDispatchesService } from './room-dispatches.service';

const MEETING_ENDED: DispatchEndReason = 'meeting_ended';
/** BullMQ states of a job that has not started: removing it is safe (a running one is locked). */
const NOT_STARTED = new Set(['delayed', 'waiting', 'prioritized', 'paused']);

/**
 * `rooms.meeting-ended`: the session's meeting ended (RTMS stopped with
 * STOP_BC_MEETING_ENDED; sessions queues the job). Zoom took every room out of it, so a
 * delayed `room.leave` of its dispatches must never reach Zoom: by then the room may be in
 * its next, unrelated meeting, and a leave carries no meeting number. Each dispatch of the
 * session to that meeting whose room is in it, or may be, or is on its way:
 *  - joined, leaving, or a failed leave → `left` (left_at now), its leave job removed;
 *  - queued or joining → `cancelled`, its join job removed (left_at too when a join went
 *    to Zoom, so nothing sends that room a leave);
 *  - a failed join or a cancelled dispatch that may have its room in the meeting → left_at
 *    now, so DELETE or a pending leave sends none.
 * Each gets `end_reason: meeting_ended`. Every move is conditional on the row as read: a job
 * that moved it meanwhile wins, and a job already running finds the row ended and stops.
 */
@Injectable()
export class RoomMeetingEndService {
  private readonly logger = new Logger(RoomMeetingEndService.name);

  constructor(
    @InjectRepository(RoomDispatchEntity) private readonly repo: Repository<RoomDispatchEntity>,
    private readonly sessions: SessionsService,
    private readonly events: SessionEventsService,
    private readonly appEvents: AppEventsService,
    private readonly producer: JobProducer,
    private readonly dispatches: RoomDispatchesService,
  ) {}

  async meetingEnded(sessionId: string): Promise<{ ended: number; skipped?: string }> {
    let session: SessionEntity;
    try {
      session = await this.sessions.get(sessionId);
    } catch (err) {
      // A deleted session's dispatches have lost their session_id: nothing names them here.
      if (err instanceof SessionNotFoundError) return { ended: 0, skipped: 'session does not exist' };
      throw err;
    }
    const rows = await this.repo.find({ where: { sessionId, leftAt: IsNull() }, order: { createdAt: 'ASC', id: 'ASC' } });
    let ended = 0;
    for (const d of rows) {
      // A dispatch of the session into another meeting number (a capture policy's or an API
      // caller's) is not in the meeting that ended.
      if (session.meetingId && d.meetingNumber !== session.meetingId) continue;
      if (await this.end(d)) ended++;
    }
    if (ended > 0) this.logger.log(`Session ${sessionId}: its meeting ended; ${ended} room dispatch(es) ended with it`);
    return { ended };
  }

  private async end(d: RoomDispatchEntity): Promise<boolean> {
    const now = new Date();
    const where: FindOptionsWhere<RoomDispatchEntity> = { id: d.id, status: d.status, round: d.round, leftAt: IsNull() };
    switch (d.status) {
      case RoomDispatchStatus.Joined:
      case RoomDispatchStatus.Leaving:
        return this.left(d, where, now, {});
      case RoomDispatchStatus.Failed:
        if (d.failedStep === 'leave') return this.left(d, where, now, { failedStep: null, error: null, zoomStatus: null, zoomCode: null, zoomMessage: null });
        // A failed join has no job left; DELETE would send its room a leave (failedJoinMayBeInMeeting).
        if (!failedJoinMayBeInMeeting(d)) return false;
        return this.outOfMeeting(d, where, now);
      case RoomDispatchStatus.Cancelled:
        if (!mayBeInMeeting(d)) return false;
        return this.outOfMeeting(d, where, now, JobName.RoomLeave);
      case RoomDispatchStatus.Queued:
      case RoomDispatchStatus.Joining: {
        const sent = d.joinSentAt !== null || d.joinedAt !== null;
        const res = await this.repo.update(where, { status: RoomDispatchStatus.Cancelled, completedAt: now, nextAttemptAt: null, endReason: MEETING_ENDED, ...(sent ? { leftAt: now } : {}) });
        if (!res.affected) return false;
        this.dispatches.outcomes.inc({ outcome: 'cancelled' });
        await this.removePending(JobName.RoomJoin, d);
        await this.event(d, 'zoom_room.cancelled', { reason: MEETING_ENDED });
        return true;
      }
      default:
        return false;
    }
  }

  /** The room is out: `left`, announced (zoom_room.left with the reason) in the same transaction, and its leave job gone. */
  private async left(d: RoomDispatchEntity, where: FindOptionsWhere<RoomDispatchEntity>, now: Date, extra: QueryDeepPartialEntity<RoomDispatchEntity>): Promise<boolean> {
    const res = await this.repo.manager.transaction(async (em: EntityManager) => {
      const r = await em
        .getRepository(RoomDispatchEntity)
        .update(where, { status: RoomDispatchStatus.Left, leftAt: now, completedAt: now, nextAttemptAt: null, endReason: MEETING_ENDED, ...extra });
      if (r.affected) {
        await this.appEvents.record(
          { type: AppEventType.ZoomRoomLeft, sessionId: d.sessionId, data: { dispatch_id: d.id, room_id: d.roomId, meeting_number: d.meetingNumber, reason: MEETING_ENDED } },
          em,
        );
      }
      return r;
    });
    if (!res.affected) return false;
    await this.removePending(JobName.RoomLeave, d);
    this.dispatches.outcomes.inc({ outcome: 'left' });
    await this.event(d, 'zoom_room.left', { reason: MEETING_ENDED });
    return true;
  }

  /** A finished dispatch whose room may have been in the meeting: left_at, so no leave is sent for it any more. */
  private async outOfMeeting(d: RoomDispatchEntity, where: FindOptionsWhere<RoomDispatchEntity>, now: Date, pending?: JobName.RoomLeave): Promise<boolean> {
    const res = await this.repo.update(where, { leftAt: now, endReason: MEETING_ENDED, nextAttemptAt: null });
    if (!res.affected) return false;
    if (pending) await this.removePending(pending, d);
    return true;
  }

  /**
   * Removes the round's job if it has not started. A running one is locked (BullMQ will not
   * remove it) and finds the dispatch ended; a finished one stays where Bull Board shows it.
   */
  private async removePending(name: JobName.RoomJoin | JobName.RoomLeave, d: RoomDispatchEntity): Promise<void> {
    const job = await this.producer.queueFor(name).getJob(jobIdFor(name, { dispatchId: d.id, round: d.round }) as string);
    if (!job || !NOT_STARTED.has(await job.getState())) return;
    await job.remove().catch((err: unknown) => this.logger.warn(`Could not remove ${name} of dispatch ${d.id}: ${String(err)}`));
  }

  private async event(d: RoomDispatchEntity, eventType: string, payload: Record<string, unknown>): Promise<void> {
    if (!d.sessionId) return;
    await this.events
      .recordEvent(d.sessionId, { source: EventSource.Worker, eventType, payload: { dispatch_id: d.id, room_id: d.roomId, meeting_number: d.meetingNumber, round: d.round, ...payload } })
      .catch((err: unknown) => this.logger.warn(`Could not record ${eventType} for session ${d.sessionId}: ${String(err)}`));
  }
}
