import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../../common/errors/domain-error';
import { ZoomRoomsErrorCode } from '../../common/errors/error-codes';
import { ConfigService } from '@nestjs/config';
import { InjectRepository } from '@nestjs/typeorm';
import { UnrecoverableError } from 'bullmq';
import Redis from 'ioredis';
import { Counter } from 'prom-client';
import { FindOptionsWhere, In, QueryFailedError, Repository } from 'typeorm';
import { MetricsService } from '../../common/metrics/metrics.service';
import { REDIS_CLIENT } from '../../common/redis/redis.module';
import { AppConfig } from '../../config/app.config';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { RedisLock } from '../../common/redis/redis-lock';
import { TokenCipher } from '../../common/crypto/token-cipher';
import { EventSource, SessionEventsService, SessionNotFoundError, SessionsService, StoredZoomRoomsPolicy, zoomRoomsPasscodeAad } from '../sessions';
import { CreateDispatchDto, ListDispatchesQuery } from './dto/zoom-rooms.dto';
import { ACTIVE_DISPATCH_STATUSES, DispatchSource, DispatchStep, failedJoinMayBeInMeeting, mayBeInMeeting, RoomDispatchEntity, RoomDispatchStatus } from './entities/room-dispatch.entity';
import { dispatchView, DispatchView, passcodeAad } from './room-dispatch.views';
import { jobIdFor } from '../../jobs/job-ids';
import { RoomDispatchesRepository } from './repositories/room-dispatches.repository';
import { ZoomRoomsService } from './zoom-rooms.service';
import { ZoomRoomsError } from './zoom-rooms.errors';

export interface DispatchCreated {
  data: Array<DispatchView & { existing: boolean }>;
}

export class RoomDispatchNotFoundError extends DomainError {
  constructor(id: string) {
    super(ZoomRoomsErrorCode.RoomDispatchNotFound, `Room dispatch ${id} does not exist`);
  }
}

const AUTO_LOCK_TTL_MS = 60_000;

/** A room to dispatch; the name is known when the room came from Zoom's list. */
interface RoomTarget {
  id: string;
  name: string | null;
}

const roomById = (id: string): RoomTarget => ({ id, name: null });

/**
 * Room dispatches: creation (API and automatic), queries, retry and cancel. Each room
 * gets a row and a `room.join` job; the runner (worker) does the Zoom calls.
 */
@Injectable()
export class RoomDispatchesService {
  private readonly logger = new Logger(RoomDispatchesService.name);
  private readonly lock: RedisLock;
  private readonly lockPrefix: string;
  readonly outcomes: Counter<'outcome'>;

  constructor(
    @InjectRepository(RoomDispatchEntity) private readonly repo: Repository<RoomDispatchEntity>,
    private readonly rows: RoomDispatchesRepository,
    private readonly rooms: ZoomRoomsService,
    private readonly sessions: SessionsService,
    private readonly events: SessionEventsService,
    private readonly cipher: TokenCipher,
    private readonly producer: JobProducer,
    private readonly config: ConfigService<AppConfig, true>,
    @Inject(REDIS_CLIENT) redis: Redis,
    metrics: MetricsService,
  ) {
    this.lock = new RedisLock(redis);
    this.lockPrefix = `${config.get('queues', { infer: true }).prefix}:zoom-rooms:auto:`;
    this.outcomes = metrics.counter({
      name: 'rtms_hub_zoom_rooms_dispatches_total',
      help: 'Room dispatches by outcome (created, joined, left, failed_join, failed_leave, cancelled)',
      labelNames: ['outcome'],
    });
    const dispatches = this.rows;
    metrics.gauge({
      name: 'rtms_hub_zoom_rooms_dispatches',
      help: 'Room dispatches per status (failed = final failures waiting for a retry)',
      labelNames: ['status'],
      async collect() {
        try {
          const counts = await dispatches.countByStatus();
          for (const s of Object.values(RoomDispatchStatus)) this.set({ status: s }, counts.get(s) ?? 0);
        } catch {
          // Database unreachable: keep the last values; readiness reports the outage.
        }
      },
    });
  }

  /**
   * `owner`: the caller's owner tag. Another owner's session is not found; the dispatch
   * belongs to its session's owner, or else to the caller's.
   */
  async create(dto: CreateDispatchDto, source: DispatchSource = 'api', owner?: string | null): Promise<DispatchCreated> {
    const session = dto.session_id ? await this.sessions.get(dto.session_id, owner) : null;
    const rowOwner = session ? session.owner : (owner ?? null);
    const rooms = dto.room_ids ? dto.room_ids.map(roomById) : await this.availableRooms();
    if (!dto.room_ids && rooms.length === 0 && source === 'api') {
      throw new ZoomRoomsError(ZoomRoomsErrorCode.NoAvailableRooms, 'No Zoom Room is Available right now; pass room_ids to dispatch specific rooms');
    }
    const placed = await this.dispatchRooms(rooms, dto, source, rowOwner, owner);
    return { data: placed.map(({ row, existing }) => ({ ...dispatchView(row), existing })) };
  }

  /** The rooms Zoom says are Available now (not from the cache). */
  private async availableRooms(): Promise<RoomTarget[]> {
    const available = await this.rooms.list('Available', { fresh: true });
    return available.data.map((r) => ({ id: r.id, name: r.name }));
  }

  /**
   * One dispatch (row + room.join) per room; `callerOwner` may not see another owner's active
   * dispatch. `existing`: the room's active dispatch to the meeting, found (not joined again).
   */
  private async dispatchRooms(
    rooms: RoomTarget[],
    dto: CreateDispatchDto,
    source: DispatchSource,
    rowOwner: string | null,
    callerOwner?: string | null,
  ): Promise<Array<{ row: RoomDispatchEntity; existing: boolean }>> {
    const leaveAfter = dto.leave_after_seconds ?? this.config.get('zoomRooms', { infer: true }).defaultLeaveAfterSec;
    // Every room's row first, the joins after: a request refused for one room (another
    // owner's dispatch holds it) leaves nothing behind — no row, and above all no join of
    // the rooms before it.
    const placed: Array<{ row: RoomDispatchEntity; existing: boolean }> = [];
    try {
      for (const room of rooms) {
        const p = await this.insertOrFindActive(room.id, room.name, dto, leaveAfter, source, rowOwner);
        placed.push(p);
        if (p.existing && callerOwner && p.row.owner !== callerOwner) {
          // Another owner's dispatch holds the room: say so without showing it.
          throw new ZoomRoomsError(ZoomRoomsErrorCode.RoomBusy, `Room ${room.id} already has an active dispatch to meeting ${dto.meeting_number}`);
        }
      }
    } catch (err) {
      await this.deleteUnstarted(placed);
      throw err;
    }
    for (const [i, { row, existing }] of placed.entries()) {
      if (!existing) {
        try {
          await this.enqueueStep(row, 'join');
        } catch (err) {
          // This one is failed (enqueueStep); the rooms after it were never started: no
          // row without a job is left, and a retry of the request dispatches them.
          await this.deleteUnstarted(placed.slice(i + 1));
          throw err;
        }
        this.outcomes.inc({ outcome: 'created' });
      }
    }
    this.logger.log(`Dispatch to meeting ${dto.meeting_number}: ${placed.filter((p) => !p.existing).length} new, ${placed.filter((p) => p.existing).length} already active (${source})`);
    return placed;
  }

  /** Deletes the rows this request inserted whose join was never queued. */
  private async deleteUnstarted(placed: Array<{ row: RoomDispatchEntity; existing: boolean }>): Promise<void> {
    const inserted = placed.filter((p) => !p.existing).map((p) => p.row.id);
    if (inserted.length > 0) await this.repo.delete({ id: In(inserted), status: RoomDispatchStatus.Queued });
  }

  /**
   * Queues the step's job for the row's round. When Redis refuses it, the row goes (back)
   * to failed, so it holds no room without a job and can be retried; the error propagates.
   */
  private async enqueueStep(row: Pick<RoomDispatchEntity, 'id' | 'round'>, step: DispatchStep): Promise<void> {
    const data = { dispatchId: row.id, round: row.round };
    try {
      if (step === 'join') await this.producer.enqueue(JobName.RoomJoin, data);
      else await this.producer.enqueue(JobName.RoomLeave, data);
    } catch (err) {
      await this.repo.update(
        { id: row.id, round: row.round, status: In([RoomDispatchStatus.Queued, RoomDispatchStatus.Leaving]) },
        { status: RoomDispatchStatus.Failed, failedStep: step, error: 'could not be queued', completedAt: new Date() },
      );
      throw err;
    }
  }

  /** One active dispatch per room + meeting (unique partial index): a repeat finds the first one. */
  private async insertOrFindActive(
    roomId: string,
    roomName: string | null,
    dto: CreateDispatchDto,
    leaveAfter: number,
    source: DispatchSource,
    owner: string | null,
  ): Promise<{ row: RoomDispatchEntity; existing: boolean }> {
    for (let i = 0; i < 3; i++) {
      const id = randomUUID();
      const inserted = await this.rows.insertUnlessActive({
        id,
        roomId,
        roomName,
        meetingNumber: dto.meeting_number,
        passcodeEnc: dto.passcode ? this.cipher.encrypt(dto.passcode, passcodeAad(id)) : null,
        sessionId: dto.session_id ?? null,
        owner,
        source,
        status: RoomDispatchStatus.Queued,
        leaveAfterSeconds: leaveAfter,
      });
      if (inserted) return { row: await this.repo.findOneByOrFail({ id }), existing: false };
      const active = await this.repo.findOne({ where: { roomId, meetingNumber: dto.meeting_number, status: In([...ACTIVE_DISPATCH_STATUSES]) } });
      if (active) return { row: active, existing: true };
      // The active one finished between our insert and read: try again.
    }
    throw new ZoomRoomsError(ZoomRoomsErrorCode.RoomDispatchConflict, `Room ${roomId} is being dispatched concurrently; try again`);
  }

  /** The dispatch; with an `owner`, another owner's dispatch is not found either. */
  async get(id: string, owner?: string | null): Promise<RoomDispatchEntity> {
    const row = await this.repo.findOne({ where: owner ? { id, owner } : { id } });
    if (!row) throw new RoomDispatchNotFoundError(id);
    return row;
  }

  async list(query: ListDispatchesQuery, owner?: string | null): Promise<{ data: DispatchView[] }> {
    const where: FindOptionsWhere<RoomDispatchEntity> = {};
    if (owner) where.owner = owner;
    if (query.session_id) where.sessionId = query.session_id;
    if (query.status) where.status = query.status;
    const rows = await this.repo.find({ where, order: { createdAt: 'DESC', id: 'ASC' }, take: query.limit ?? 100 });
    return { data: rows.map(dispatchView) };
  }

  /**
   * Re-runs a failed dispatch's failed step (join, or leave) in a new round. A join's new
   * round starts with join_sent_at (and a meeting end's left_at) cleared: "already in a
   * meeting" to its first request means the room is busy — maybe hours later, in another
   * meeting — not that the failed round's join took it in.
   */
  async retry(id: string, owner?: string | null): Promise<DispatchView> {
    const d = await this.get(id, owner);
    if (d.status !== RoomDispatchStatus.Failed) {
      throw new ZoomRoomsError(ZoomRoomsErrorCode.RoomDispatchNotFailed, `Room dispatch ${id} is ${d.status}; only a failed dispatch can be retried`);
    }
    const step = d.failedStep ?? 'join';
    const round = d.round + 1;
    try {
      const res = await this.repo.update(
        { id, status: RoomDispatchStatus.Failed, round: d.round },
        {
          status: step === 'join' ? RoomDispatchStatus.Queued : RoomDispatchStatus.Leaving,
          round,
          failedStep: null,
          zoomStatus: null,
          zoomCode: null,
          zoomMessage: null,
          error: null,
          throttledCount: 0,
          nextAttemptAt: null,
          completedAt: null,
          ...(step === 'leave' ? { leaveAt: new Date() } : { joinSentAt: null, leftAt: null, endReason: null }),
        },
      );
      if (!res.affected) throw new ZoomRoomsError(ZoomRoomsErrorCode.RoomDispatchChanged, `Room dispatch ${id} changed meanwhile; read it again`);
    } catch (err) {
      if (err instanceof QueryFailedError && (err.driverError as { code?: string }).code === '23505') {
        throw new ZoomRoomsError(ZoomRoomsErrorCode.RoomBusy, `Room ${d.roomId} already has an active dispatch to meeting ${d.meetingNumber}`);
      }
      throw err;
    }
    await this.enqueueStep({ id, round }, step);
    this.logger.log(`Room dispatch ${id} retried (${step}, round ${round})`);
    return dispatchView(await this.get(id));
  }

  /**
   * DELETE: a joined room leaves now; a pending join is cancelled; a failed join whose room
   * Zoom may have (join_sent_at) is cancelled and its room leaves now.
   */
  async cancel(id: string, owner?: string | null): Promise<DispatchView> {
    for (let i = 0; i < 3; i++) {
      const d = await this.get(id, owner);
      switch (d.status) {
        case RoomDispatchStatus.Queued:
        case RoomDispatchStatus.Joining: {
          const res = await this.repo.update({ id, status: d.status, round: d.round }, { status: RoomDispatchStatus.Cancelled, nextAttemptAt: null, completedAt: new Date() });
          if (!res.affected) continue;
          this.outcomes.inc({ outcome: 'cancelled' });
          // A join job not yet running goes away; one running sees the cancel when Zoom
          // answers (or when it runs again) and has the room leave if Zoom may have it.
          const joinGone = await this.removeJoinJob(id, d.round);
          // Read after the cancel: a running join marks join_sent_at only while `joining`.
          const row = await this.get(id);
          if (joinGone && mayBeInMeeting(row)) {
            // An earlier run's join went to Zoom with no definite answer (a timeout, a 5xx, a
            // worker that died after Zoom's 202), and no join job is left to see this cancel.
            // Not while a join runs: a leave that reached Zoom before that join would be undone by it.
            await this.leaveNow(id, d.round);
            this.logger.log(`Room dispatch ${id} cancelled after its join went to Zoom; the room leaves now`);
            return dispatchView(await this.get(id));
          }
          this.logger.log(`Room dispatch ${id} cancelled before the room joined`);
          return dispatchView(row);
        }
        case RoomDispatchStatus.Joined:
        case RoomDispatchStatus.Leaving: {
          if (d.status === RoomDispatchStatus.Joined) {
            const res = await this.repo.update({ id, status: RoomDispatchStatus.Joined, round: d.round }, { status: RoomDispatchStatus.Leaving, leaveAt: new Date() });
            if (!res.affected) continue;
          }
          await this.leaveNow(id, d.round);
          this.logger.log(`Room dispatch ${id}: leave requested now`);
          return dispatchView(await this.get(id));
        }
        case RoomDispatchStatus.Failed: {
          if (!failedJoinMayBeInMeeting(d)) throw new ZoomRoomsError(ZoomRoomsErrorCode.RoomDispatchFinished, `Room dispatch ${id} is failed; nothing to cancel`);
          // A join of it went to Zoom unanswered before it failed: the room may be in the
          // meeting. No join job of the round runs any more (it failed for good), so the leave
          // cannot be undone by one. The leave job sees a cancelled dispatch that may be in the
          // meeting (mayBeInMeeting) and ends it with left_at.
          const res = await this.repo.update({ id, status: RoomDispatchStatus.Failed, round: d.round }, { status: RoomDispatchStatus.Cancelled, nextAttemptAt: null, completedAt: new Date() });
          if (!res.affected) continue;
          this.outcomes.inc({ outcome: 'cancelled' });
          await this.leaveNow(id, d.round);
          this.logger.log(`Room dispatch ${id}: failed join cancelled after a join went to Zoom; the room leaves now`);
          return dispatchView(await this.get(id));
        }
        default:
          throw new ZoomRoomsError(ZoomRoomsErrorCode.RoomDispatchFinished, `Room dispatch ${id} is ${d.status}; nothing to cancel`);
      }
    }
    throw new ZoomRoomsError(ZoomRoomsErrorCode.RoomDispatchChanged, `Room dispatch ${id} keeps changing; try again`);
  }

  /**
   * Removes the round's join job. False when a worker holds it (running): BullMQ will not
   * remove a locked job, and that run sees the cancel itself. True when it is gone.
   */
  private async removeJoinJob(id: string, round: number): Promise<boolean> {
    const job = await this.producer.queueFor(JobName.RoomJoin).getJob(jobIdFor(JobName.RoomJoin, { dispatchId: id, round }) as string);
    if (!job) return true;
    return job.remove().then(
      () => true,
      () => false,
    );
  }

  /** Promotes the delayed leave job of the round, or adds it (leave_after_seconds 0 has none). */
  async leaveNow(id: string, round: number): Promise<void> {
    const queue = this.producer.queueFor(JobName.RoomLeave);
    const job = await queue.getJob(jobIdFor(JobName.RoomLeave, { dispatchId: id, round }) as string);
    if (job) {
      if (await job.isDelayed()) await job.promote().catch(() => undefined);
      return;
    }
    await this.producer.enqueue(JobName.RoomLeave, { dispatchId: id, round });
  }

  /**
   * `rooms.auto-dispatch`: dispatches the rooms a session's capture policy names, once
   * per room and session: a second handshake or a redelivered job dispatches only the
   * named rooms that have no automatic dispatch for the session yet (none, once a run
   * finished; the rest, after a run that failed part way). With all_available, a run
   * after any room went dispatches nothing.
   */
  async autoDispatch(sessionId: string): Promise<{ skipped?: string; dispatched?: number; held?: number }> {
    let session;
    try {
      session = await this.sessions.get(sessionId);
    } catch (err) {
      if (err instanceof SessionNotFoundError) throw new UnrecoverableError(`session ${sessionId} does not exist`);
      throw err;
    }
    const policy = (session.capturePolicy as { zoom_rooms?: StoredZoomRoomsPolicy }).zoom_rooms;
    if (!policy || (!policy.all_available && !policy.room_ids?.length)) return { skipped: 'capture policy names no Zoom Rooms' };
    const lockKey = `${this.lockPrefix}${sessionId}`;
    const lease = await this.lock.acquire(lockKey, AUTO_LOCK_TTL_MS);
    if (!lease) throw new Error(`auto-dispatch for session ${sessionId} is already running elsewhere`);
    try {
      const already = await this.autoDispatchedRoomIds(sessionId);
      // All available means the rooms Available when capture began: once any went, a later
      // run (a second handshake) must not send rooms that became Available since.
      if (policy.all_available && already.size > 0) return { skipped: 'already dispatched', dispatched: already.size };
      const policyRooms = policy.all_available ? await this.availableRooms() : (policy.room_ids ?? []).map(roomById);
      const rooms = policyRooms.filter((r) => !already.has(r.id));
      if (rooms.length === 0) return { skipped: already.size > 0 ? 'already dispatched' : 'no room to dispatch', dispatched: already.size };
      const passcode = policy.passcode_enc ? this.cipher.decrypt(policy.passcode_enc, zoomRoomsPasscodeAad(sessionId)) : undefined;
      const meetingNumber = policy.meeting_number ?? session.meetingId;
      if (!meetingNumber) throw new UnrecoverableError(`session ${sessionId} has no meeting number for its Zoom Rooms`);
      const dto: CreateDispatchDto = { meeting_number: meetingNumber, passcode, leave_after_seconds: policy.leave_after_seconds ?? undefined, session_id: sessionId };
      const created = await this.dispatchRooms(rooms, dto, 'auto', session.owner);
      // A room another dispatch already holds in the meeting (an API dispatch, another
      // session's) gets no row of this session — one active dispatch per room and meeting —
      // and joins no second time: the timeline says which dispatch holds it (its id only when
      // it is the session owner's, as the API answers another owner's with room_busy). It is
      // not this session's dispatch, so a later run tries the room again.
      const sent = created.filter((p) => !p.existing).map((p) => p.row);
      const held = created.filter((p) => p.existing).map(({ row }) => ({ room_id: row.roomId, dispatch_id: row.owner === session.owner ? row.id : null, status: row.status }));
      await this.events.recordEvent(sessionId, {
        source: EventSource.Worker,
        eventType: 'zoom_rooms.dispatched',
        payload: { dispatch_ids: sent.map((d) => d.id), room_ids: sent.map((d) => d.roomId), ...(held.length > 0 ? { held } : {}) },
      });
      if (held.length > 0) this.logger.log(`Auto-dispatch for session ${sessionId}: ${held.length} room(s) already held in meeting ${meetingNumber} by other dispatches`);
      return { dispatched: sent.length, ...(held.length > 0 ? { held: held.length } : {}) };
    } finally {
      await this.lock.release(lockKey, lease).catch(() => undefined);
    }
  }

  /**
   * A `rooms.auto-dispatch` job failed for good (its last attempt, e.g. during a Zoom API
   * outage): recorded on the session's timeline as `zoom_rooms.dispatch_failed`. Never
   * throws: a session that is gone, or a database that does not answer, is logged.
   */
  async autoDispatchFailed(sessionId: string, err: Error, attempts: number): Promise<void> {
    await this.events
      .recordEvent(sessionId, { source: EventSource.Worker, eventType: 'zoom_rooms.dispatch_failed', payload: { error: err.message.slice(0, 500), attempts } })
      .catch((recordErr: unknown) => this.logger.warn(`Could not record zoom_rooms.dispatch_failed for session ${sessionId}: ${String(recordErr)}`));
  }

  /** The rooms that already have an automatic dispatch for the session (in any status). */
  private async autoDispatchedRoomIds(sessionId: string): Promise<Set<string>> {
    const rows = await this.repo.find({ where: { sessionId, source: 'auto' }, select: { roomId: true } });
    return new Set(rows.map((r) => r.roomId));
  }
}
