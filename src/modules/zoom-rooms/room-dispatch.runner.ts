import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectRepository } from '@nestjs/typeorm';
import { Job, UnrecoverableError } from 'bullmq';
import { deferJobUntil } from '../../jobs/queue-processor';
import { Histogram } from 'prom-client';
import { EntityManager, FindOptionsWhere, In, IsNull, Repository } from 'typeorm';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { AppEventsService, AppEventType } from '../app-events';
import { MetricsService } from '../../common/metrics/metrics.service';
import { AppConfig } from '../../config/app.config';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { RoomJobPayload } from '../../jobs/job-payloads';
import { TokenCipher } from '../../common/crypto/token-cipher';
import { ZoomCallOutcome, ZoomResponse } from '../../zoom/http/zoom-http.client';
import { ZoomCallPolicy, ZoomCallRetryableError } from '../../zoom/call/zoom-call-policy';
import { sleep } from '../../common/async/sleep';
import { ZoomS2sTokenService } from '../../zoom/auth/zoom-s2s-token.service';
import { EventSource, SessionEventsService } from '../sessions';
import { DispatchStep, mayBeInMeeting, RoomDispatchEntity, RoomDispatchStatus } from './entities/room-dispatch.entity';
import { RoomDispatchesService } from './room-dispatches.service';
import { passcodeAad } from './room-dispatch.views';
import { RoomsRateLimiter } from './rooms-rate-limiter';
import { RoomCall, ZoomRoomsClient } from './zoom-rooms.client';
import { errorMessage } from '../../common/errors/error-message';

/** A job sleeps in-process for its rate-limit slot up to this long; further out it goes back to delayed. */
const MAX_INPROCESS_WAIT_MS = 5_000;
const FINAL = [RoomDispatchStatus.Left, RoomDispatchStatus.Failed, RoomDispatchStatus.Cancelled];

/** What a step adds around its Zoom call (the join's join_sent_at). */
interface CallHooks {
  /** Right before each HTTP request, after the rate-limit wait (what it throws ends the call). */
  beforeRequest?(): Promise<void>;
  /** Zoom did not act on this job's requests: it throttled (429) or refused (4xx) them, or none went out (no token). */
  notAccepted?(): Promise<void>;
  /** Zoom refused the request, and the refusal says the step is done anyway: the call returns Zoom's answer. */
  refusalMeansDone?(record: ZoomCallOutcome): boolean;
  /** Zoom refused the request (and it is not done): instead of notAccepted. */
  refused?(record: ZoomCallOutcome): Promise<void>;
}

/**
 * Zoom's answer to a join for a room that is in a meeting: 400, code 3000, "Zoom Room is
 * already in a meeting." Zoom uses 3000 for an offline room too ("Zoom Room is offline."),
 * so the message tells them apart.
 */
export const isAlreadyInMeeting = (record: ZoomCallOutcome): boolean =>
  record.zoomStatus === 400 && record.zoomCode === '3000' && /already in a meeting/i.test(record.zoomMessage ?? '');

/** The dispatch was cancelled before its join went to Zoom: the join is not sent. */
class JoinWithdrawnError extends Error {
  constructor(dispatchId: string) {
    super(`room dispatch ${dispatchId} was cancelled before its join was sent`);
    this.name = 'JoinWithdrawnError';
  }
}

/** Zoom refused the leave of a cancelled dispatch (see cancelledLeaveRefused). */
class CancelledLeaveRefusedError extends Error {
  constructor(readonly record: ZoomCallOutcome) {
    super(record.error ?? 'Zoom refused room leave');
    this.name = 'CancelledLeaveRefusedError';
  }
}

/**
 * Runs room.join / room.leave: PATCH /rooms/{id}/events through the shared rate limiter.
 *  - 2xx: joined (and a delayed room.leave with a deterministic id), or left.
 *  - 401: the S2S token is fetched again once.
 *  - 429: everybody pauses for Retry-After; the job goes back to delayed (no attempt used; capped).
 *  - 5xx / network / timeout: thrown, BullMQ retries with exponential backoff.
 *  - other 4xx (offline, wrong passcode, unknown room...): failed at once with Zoom's code and message,
 *    join_sent_at cleared (the room is not in our meeting); except "already in a meeting"
 *    (400 3000) after an earlier join of this round went to Zoom (join_sent_at): that join
 *    took the room in, the dispatch is joined.
 * A dispatch cancelled after its join went to Zoom (join_sent_at, joined_at: mayBeInMeeting)
 * has its room sent a leave: by the join job when it sees the cancel (Zoom's answer, a re-run,
 * its final failure), or by DELETE when no join job is left to see it.
 */
@Injectable()
export class RoomDispatchRunner {
  private readonly logger = new Logger(RoomDispatchRunner.name);
  private readonly waits: Histogram<'call'>;

  constructor(
    @InjectRepository(RoomDispatchEntity) private readonly repo: Repository<RoomDispatchEntity>,
    private readonly client: ZoomRoomsClient,
    private readonly policy: ZoomCallPolicy,
    private readonly s2s: ZoomS2sTokenService,
    private readonly limiter: RoomsRateLimiter,
    private readonly cipher: TokenCipher,
    private readonly producer: JobProducer,
    private readonly dispatches: RoomDispatchesService,
    private readonly events: SessionEventsService,
    private readonly config: ConfigService<AppConfig, true>,
    metrics: MetricsService,
    private readonly appEvents: AppEventsService,
  ) {
    this.waits = metrics.histogram({
      name: 'rtms_hub_zoom_rooms_rate_wait_seconds',
      help: 'Time a Zoom Rooms call waited for its cluster-wide rate-limit slot',
      labelNames: ['call'],
      buckets: [0, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    });
  }

  async join(job: Job<RoomJobPayload>): Promise<{ status: string; skipped?: boolean }> {
    const d = await this.load(job);
    if (job.data.round !== undefined && job.data.round !== d.round) return { status: d.status, skipped: true };
    if (d.status !== RoomDispatchStatus.Queued && d.status !== RoomDispatchStatus.Joining) {
      await this.finishInterruptedJoin(d);
      return { status: d.status, skipped: true };
    }
    await this.repo.update({ id: d.id, status: In([RoomDispatchStatus.Queued, RoomDispatchStatus.Joining]) }, { status: RoomDispatchStatus.Joining, nextAttemptAt: null });

    const params: Record<string, string> = { meeting_number: d.meetingNumber };
    if (d.passcodeEnc) params.passcode = this.cipher.decrypt(d.passcodeEnc, passcodeAad(d.id));
    // join_sent_at is written right before each request, after the rate-limit wait, and not
    // with `joining`: a join still waiting for its slot (or deferred by it) has not reached
    // Zoom, and a cancel then needs no leave. It is cleared when Zoom throttles or refuses
    // the request: Zoom did not join the room. `markedAt`: the mark this job wrote, if any.
    let markedAt: Date | null = null;
    const unmark = async (): Promise<void> => {
      if (markedAt) await this.repo.update({ id: d.id, joinSentAt: markedAt }, { joinSentAt: null });
      markedAt = null;
    };
    // Set when Zoom's refusal of this job's join says an earlier join took the room in.
    const inferred: { from?: ZoomCallOutcome } = {};
    let res: ZoomResponse;
    try {
      res = await this.call(job, d, 'join', (token) => this.client.sendEvent(d.roomId, 'zoomroom.meeting_join', params, token), {
        beforeRequest: async () => {
          const at = await this.markJoinSent(d);
          markedAt ??= at;
        },
        notAccepted: unmark,
        // "Already in a meeting" fails the first join of a round (the room is busy
        // elsewhere). After a join of this round that went to Zoom before this job's
        // requests and whose answer was lost (a timeout, a 5xx, a worker that died after
        // Zoom's 202), it is that join's doing: the room is in our meeting. (A retry starts
        // its round with join_sent_at cleared: the failed round's join proves nothing now.)
        refusalMeansDone: (record) => {
          if (markedAt !== null || !isAlreadyInMeeting(record)) return false;
          inferred.from = record;
          return true;
        },
        // Any other refusal says the room is not in our meeting — offline, unknown, the
        // meeting gone, the passcode (the same in every request) wrong, or busy elsewhere
        // (already in a meeting on this round's first join) — whatever an earlier request
        // did: the mark goes, also an earlier run's. Kept, it would have DELETE send the room
        // a leave, which would take it out of the meeting it is in.
        refused: async () => {
          await this.repo.update({ id: d.id, round: d.round }, { joinSentAt: null });
          markedAt = null;
        },
      });
    } catch (err) {
      if (!(err instanceof JoinWithdrawnError)) throw err;
      // Cancelled while waiting for the slot: this job sent nothing Zoom acted on (at most a
      // request answered 401); an earlier run's request may have joined the room.
      await unmark();
      await this.takeOutIfCancelled(d.id);
      this.logger.log(`Room dispatch ${d.id} was cancelled before its join was sent`);
      return { status: RoomDispatchStatus.Cancelled, skipped: true };
    }

    const joinedAt = new Date();
    const leaveAt = d.leaveAfterSeconds > 0 ? new Date(joinedAt.getTime() + d.leaveAfterSeconds * 1000) : null;
    const upd = await this.updateAndAnnounce(
      { id: d.id, status: RoomDispatchStatus.Joining, round: d.round },
      {
        status: RoomDispatchStatus.Joined,
        joinedAt,
        leaveAt,
        // An inferred join keeps Zoom's answer (400 3000 "already in a meeting") as its trace.
        zoomStatus: res.status,
        zoomCode: inferred.from?.zoomCode ?? null,
        zoomMessage: inferred.from?.zoomMessage ?? null,
        error: null,
        nextAttemptAt: null,
      },
      d,
      AppEventType.ZoomRoomJoined,
      {},
    );
    if (inferred.from) {
      this.logger.warn(`Room ${d.roomId} is already in a meeting after an earlier join of dispatch ${d.id} went to Zoom unanswered: taken as joined to meeting ${d.meetingNumber}`);
    } else {
      this.client.calls.inc({ call: 'join', outcome: 'ok' });
    }
    if (!upd.affected) {
      // DELETE (or the meeting's end) arrived while Zoom was joining the room: it leaves at
      // once. left_at goes too: this join put the room in after the meeting end marked it out.
      await this.repo.update({ id: d.id }, { joinedAt, leftAt: null });
      await this.dispatches.leaveNow(d.id, d.round);
      this.logger.log(`Room ${d.roomId} joined meeting ${d.meetingNumber} after its dispatch ${d.id} was cancelled; leaving now`);
      return { status: RoomDispatchStatus.Cancelled };
    }
    if (leaveAt) await this.scheduleLeave(d, leaveAt);
    this.dispatches.outcomes.inc({ outcome: 'joined' });
    await this.event(d, 'zoom_room.joined', { leave_at: leaveAt?.toISOString() ?? null, ...(inferred.from ? { inferred: true } : {}) });
    this.logger.log(`Room ${d.roomId} joined meeting ${d.meetingNumber} (dispatch ${d.id}${leaveAt ? `, leaves in ${d.leaveAfterSeconds} s` : ', stays'})`);
    return { status: RoomDispatchStatus.Joined };
  }

  /**
   * A re-run of this round's join (BullMQ retry after a throw or a crash) finds the row
   * moved on: the first run got Zoom's 202 and moved it but may have died before the step
   * after it, or the dispatch was cancelled after a join went to Zoom — also when that run
   * died between Zoom's 202 and writing `joined_at` (join_sent_at says a join went out).
   * Makes sure the room does not stay in the meeting.
   */
  private async finishInterruptedJoin(d: RoomDispatchEntity): Promise<void> {
    if (d.status === RoomDispatchStatus.Joined && d.leaveAt) {
      await this.scheduleLeave(d, d.leaveAt);
    } else if (mayBeInMeeting(d)) {
      await this.dispatches.leaveNow(d.id, d.round);
      this.logger.log(`Room dispatch ${d.id} was cancelled after its join went to Zoom${d.joinedAt ? '' : ' (no answer recorded)'}; the room leaves now`);
    }
  }

  /**
   * Marks that this round's join goes to Zoom now, unless an earlier request already did
   * (that mark stays: Zoom may have acted on it). Returns the mark written, or null.
   * Throws JoinWithdrawnError when the dispatch is no longer joining (cancelled meanwhile).
   */
  private async markJoinSent(d: RoomDispatchEntity): Promise<Date | null> {
    const at = new Date();
    const res = await this.repo.update({ id: d.id, round: d.round, status: RoomDispatchStatus.Joining, joinSentAt: IsNull() }, { joinSentAt: at });
    if (res.affected) return at;
    const now = await this.repo.findOneBy({ id: d.id });
    if (now?.status === RoomDispatchStatus.Joining && now.round === d.round) return null;
    throw new JoinWithdrawnError(d.id);
  }

  /** A cancelled dispatch whose room Zoom may have joined: its leave, now (a no-op for any other). */
  private async takeOutIfCancelled(dispatchId: string): Promise<void> {
    const d = await this.repo.findOneBy({ id: dispatchId });
    if (!d || !mayBeInMeeting(d)) return;
    await this.dispatches.leaveNow(d.id, d.round);
    this.logger.log(`Room dispatch ${d.id} was cancelled after its join went to Zoom; the room leaves now`);
  }

  /**
   * The round's delayed room.leave. Its id is deterministic, so adding it again is a no-op
   * while a job with that id exists — also a completed or failed one: that leave already
   * ran, or was recorded as failed.
   */
  private async scheduleLeave(d: RoomDispatchEntity, leaveAt: Date): Promise<void> {
    await this.producer.enqueue(JobName.RoomLeave, { dispatchId: d.id, round: d.round }, { delay: Math.max(0, leaveAt.getTime() - Date.now()) });
  }

  async leave(job: Job<RoomJobPayload>): Promise<{ status: string; skipped?: boolean }> {
    const d = await this.load(job);
    if (job.data.round !== undefined && job.data.round !== d.round) return { status: d.status, skipped: true };
    const cancelledInMeeting = mayBeInMeeting(d);
    if (d.status !== RoomDispatchStatus.Joined && d.status !== RoomDispatchStatus.Leaving && !cancelledInMeeting) return { status: d.status, skipped: true };
    if (d.status === RoomDispatchStatus.Joined) {
      await this.repo.update({ id: d.id, status: RoomDispatchStatus.Joined }, { status: RoomDispatchStatus.Leaving });
    }
    let res: ZoomResponse;
    try {
      res = await this.call(job, d, 'leave', (token) => this.client.sendEvent(d.roomId, 'zoomroom.meeting_leave', {}, token));
    } catch (err) {
      if (err instanceof CancelledLeaveRefusedError) return this.cancelledLeaveRefused(d, err.record);
      throw err;
    }

    const now = new Date();
    const finalStatus = cancelledInMeeting ? RoomDispatchStatus.Cancelled : RoomDispatchStatus.Left;
    const upd = await this.updateAndAnnounce(
      { id: d.id, status: In([RoomDispatchStatus.Leaving, RoomDispatchStatus.Joined, RoomDispatchStatus.Cancelled]) },
      { status: finalStatus, leftAt: now, completedAt: now, zoomStatus: res.status, zoomCode: null, zoomMessage: null, error: null, nextAttemptAt: null },
      d,
      AppEventType.ZoomRoomLeft,
      {},
    );
    this.client.calls.inc({ call: 'leave', outcome: 'ok' });
    // Ended meanwhile (its meeting's end marked it left while this leave was on its way): already announced.
    if (!upd.affected) return { status: RoomDispatchStatus.Left, skipped: true };
    this.dispatches.outcomes.inc({ outcome: 'left' });
    await this.event(d, 'zoom_room.left', {});
    this.logger.log(`Room ${d.roomId} left meeting ${d.meetingNumber} (dispatch ${d.id})`);
    return { status: finalStatus };
  }

  /**
   * Zoom refused the leave of a cancelled dispatch (e.g. 400 3000, the room is offline).
   * It stays cancelled, with Zoom's answer. When Zoom never confirmed the join (the leave
   * went out because a join was sent whose answer was lost), the refusal says the room is
   * not there to take out: the job ends. A room Zoom had joined that Zoom will not send
   * out is a real failure: the job fails for good, with Zoom's reason (no retry).
   */
  private async cancelledLeaveRefused(d: RoomDispatchEntity, record: ZoomCallOutcome): Promise<{ status: string }> {
    await this.repo.update({ id: d.id, status: RoomDispatchStatus.Cancelled, round: d.round }, { ...record, nextAttemptAt: null });
    if (d.joinedAt === null) {
      this.logger.log(`Room dispatch ${d.id}: Zoom refused the leave sent in case its join had gone through (${record.error ?? 'refused'}); it stays cancelled`);
      return { status: RoomDispatchStatus.Cancelled };
    }
    this.logger.warn(`Room dispatch ${d.id}: Zoom refused the leave of room ${d.roomId}, cancelled after it joined: ${record.error ?? 'refused'}`);
    throw new UnrecoverableError(record.error ?? 'room leave refused');
  }

  /**
   * Attempts used up (5xx/network): the dispatch fails with the last error seen. A join
   * that gave up on a dispatch cancelled meanwhile has its room leave if Zoom may have it.
   */
  async finalFailure(dispatchId: string, step: DispatchStep, err: Error): Promise<void> {
    const d = await this.repo.findOne({ where: { id: dispatchId } });
    if (!d) return;
    if (FINAL.includes(d.status)) {
      if (step === 'join') await this.takeOutIfCancelled(d.id);
      else if (mayBeInMeeting(d)) await this.failCancelledLeave(d, err);
      return;
    }
    await this.fail(d, step, { error: `gave up after ${d.attempts} call(s): ${err.message}` }, false);
  }

  /**
   * The leave of a cancelled dispatch whose room Zoom may have in the meeting failed for
   * good (attempts used up in an outage, or refused after a join Zoom confirmed): left
   * `cancelled`, nothing could take the room out — DELETE and retry refuse finished
   * dispatches. It becomes a failed leave instead: counted and announced like any, and
   * POST …/retry sends the leave again.
   */
  private async failCancelledLeave(d: RoomDispatchEntity, err: Error): Promise<void> {
    const outcome: ZoomCallOutcome = { error: `leave gave up after ${d.attempts} call(s): ${err.message}` };
    const res = await this.updateAndAnnounce(
      { id: d.id, status: RoomDispatchStatus.Cancelled, round: d.round, leftAt: IsNull() },
      { status: RoomDispatchStatus.Failed, failedStep: 'leave', error: outcome.error, nextAttemptAt: null, completedAt: new Date() },
      d,
      AppEventType.ZoomRoomFailed,
      { step: 'leave', error: outcome.error ?? null, zoom_status: d.zoomStatus ?? null, zoom_code: d.zoomCode ?? null },
    );
    if (!res.affected) return;
    this.dispatches.outcomes.inc({ outcome: 'failed_leave' });
    await this.event(d, 'zoom_room.leave_failed', { zoom_status: d.zoomStatus ?? null, zoom_code: d.zoomCode ?? null, zoom_message: d.zoomMessage ?? null, error: outcome.error ?? null });
    this.logger.warn(`Room dispatch ${d.id}: the leave of room ${d.roomId}, cancelled while it may be in the meeting, failed for good; it is now a failed leave (POST retry sends it again): ${err.message}`);
  }

  private async load(job: Job<RoomJobPayload>): Promise<RoomDispatchEntity> {
    const d = await this.repo.findOne({ where: { id: job.data.dispatchId } });
    if (!d) throw new UnrecoverableError(`room dispatch ${job.data.dispatchId} does not exist`);
    return d;
  }

  /**
   * One Zoom call with its rate-limit slot, under the shared Zoom call policy. Returns
   * 2xx answers; a 429 defers the job, 5xx and network errors retry it, a refusal fails it.
   */
  private async call(job: Job<RoomJobPayload>, d: RoomDispatchEntity, step: DispatchStep, send: (token: string) => Promise<ZoomResponse>, hooks: CallHooks = {}): Promise<ZoomResponse> {
    const call: RoomCall = step;
    // Whether the last request Zoom answered was a 401 (it did nothing) with none sent since:
    // a `retry` then comes from getting a new token, not from a request Zoom may have acted on.
    let answered401 = false;
    const result = await this.policy.call({
      operation: `room ${step}`,
      token: {
        get: () => this.s2s.getAccountToken(),
        refresh: async (rejected) => {
          await this.s2s.invalidate(rejected);
          return this.s2s.getAccountToken();
        },
      },
      beforeSend: async () => {
        const slot = await this.limiter.reserve(MAX_INPROCESS_WAIT_MS);
        if (!slot.reserved) {
          // The shared schedule is full far ahead (a 429 pause, or many processes): wait in Redis, not here.
          await this.repo.update({ id: d.id }, { nextAttemptAt: new Date(Date.now() + slot.waitMs) });
          await deferJobUntil(job, Date.now() + slot.waitMs);
        }
        this.waits.observe({ call }, slot.waitMs / 1000);
        if (slot.waitMs > 0) await sleep(slot.waitMs);
        await hooks.beforeRequest?.();
        await this.repo.increment({ id: d.id }, 'attempts', 1);
        answered401 = false;
      },
      send,
      onUnauthorized: () => {
        answered401 = true;
        this.client.calls.inc({ call, outcome: 'unauthorized' });
      },
    });
    switch (result.outcome) {
      case 'ok':
        return result.response;
      case 'throttled':
        await hooks.notAccepted?.();
        return this.throttled(job, d, step, result.waitSec);
      case 'retry':
        // 5xx, network error, timeout: Zoom may have acted on it (join_sent_at stays). After
        // a 401 whose new token could not be had, Zoom did not act: the mark goes, or a
        // later "already in a meeting" (the room busy elsewhere) would be taken as ours.
        if (answered401) await hooks.notAccepted?.();
        return this.retryLater(d, step, result.record);
      case 'refused':
        this.client.calls.inc({ call, outcome: 'refused' });
        if (hooks.refusalMeansDone?.(result.record)) return result.response;
        if (hooks.refused) await hooks.refused(result.record);
        else await hooks.notAccepted?.();
        if (step === 'leave' && d.status === RoomDispatchStatus.Cancelled) throw new CancelledLeaveRefusedError(result.record);
        return this.fail(d, step, result.record);
      case 'no_token':
        await hooks.notAccepted?.();
        return this.fail(d, step, { error: `no usable Server-to-Server token: ${errorMessage(result.cause)}` });
    }
  }

  private async throttled(job: Job<RoomJobPayload>, d: RoomDispatchEntity, step: DispatchStep, waitSec: number): Promise<never> {
    const max = this.config.get('zoomRooms', { infer: true }).maxThrottled;
    const fresh = await this.repo.findOneByOrFail({ id: d.id });
    const count = fresh.throttledCount + 1;
    if (count > max) return this.fail(d, step, { zoomStatus: 429, error: `Zoom rate-limited this room ${count} times` });
    await this.limiter.penalize(waitSec * 1000);
    const at = new Date(Date.now() + waitSec * 1000);
    await this.repo.update({ id: d.id }, { throttledCount: count, nextAttemptAt: at, zoomStatus: 429, error: `rate limited; retrying after ${waitSec} s` });
    this.client.calls.inc({ call: step, outcome: 'throttled' });
    this.logger.warn(`Room ${step} for dispatch ${d.id} rate-limited by Zoom; every process pauses ${waitSec} s`);
    return deferJobUntil(job, at);
  }

  private async retryLater(d: RoomDispatchEntity, step: DispatchStep, outcome: ZoomCallOutcome): Promise<never> {
    await this.repo.update({ id: d.id }, { ...outcome });
    this.client.calls.inc({ call: step, outcome: 'retry' });
    throw new ZoomCallRetryableError(outcome.error ?? 'retryable Zoom failure');
  }

  private async fail(d: RoomDispatchEntity, step: DispatchStep, outcome: ZoomCallOutcome, throwAfter = true): Promise<never> {
    const res = await this.updateAndAnnounce(
      { id: d.id, status: In([RoomDispatchStatus.Queued, RoomDispatchStatus.Joining, RoomDispatchStatus.Joined, RoomDispatchStatus.Leaving]) },
      { status: RoomDispatchStatus.Failed, failedStep: step, ...outcome, nextAttemptAt: null, completedAt: new Date() },
      d,
      AppEventType.ZoomRoomFailed,
      { step, error: outcome.error ?? null, zoom_status: outcome.zoomStatus ?? null, zoom_code: outcome.zoomCode ?? null },
    );
    if (res.affected) {
      this.dispatches.outcomes.inc({ outcome: `failed_${step}` });
      await this.event(d, `zoom_room.${step}_failed`, { zoom_status: outcome.zoomStatus ?? null, zoom_code: outcome.zoomCode ?? null, zoom_message: outcome.zoomMessage ?? null, error: outcome.error ?? null });
      this.logger.warn(`Room ${step} failed for dispatch ${d.id} (room ${d.roomId}): ${outcome.error ?? 'failed'}`);
    } else if (step === 'join') {
      // Cancelled while this join ran: Zoom refused this job's request, but an earlier
      // run's (join_sent_at) may have joined the room.
      await this.takeOutIfCancelled(d.id);
    }
    if (throwAfter) throw new UnrecoverableError(outcome.error ?? `room ${step} failed`);
    return undefined as never;
  }

  /**
   * Moves the dispatch (a conditional update) and, when it moved, announces it to apps
   * (zoom_room.*) in the same transaction.
   */
  private async updateAndAnnounce(
    where: FindOptionsWhere<RoomDispatchEntity>,
    fields: QueryDeepPartialEntity<RoomDispatchEntity>,
    d: RoomDispatchEntity,
    type: AppEventType,
    extra: Record<string, unknown>,
  ): Promise<{ affected?: number | null }> {
    return this.repo.manager.transaction(async (em: EntityManager) => {
      const res = await em.getRepository(RoomDispatchEntity).update(where, fields);
      if (res.affected) {
        await this.appEvents.record({ type, sessionId: d.sessionId, data: { dispatch_id: d.id, room_id: d.roomId, meeting_number: d.meetingNumber, ...extra } }, em);
      }
      return res;
    });
  }

  /** Session timeline entry (no passcode in it). */
  private async event(d: RoomDispatchEntity, eventType: string, payload: Record<string, unknown>): Promise<void> {
    if (!d.sessionId) return;
    await this.events
      .recordEvent(d.sessionId, { source: EventSource.Worker, eventType, payload: { dispatch_id: d.id, room_id: d.roomId, meeting_number: d.meetingNumber, round: d.round, ...payload } })
      .catch((err: unknown) => this.logger.warn(`Could not record ${eventType} for session ${d.sessionId}: ${String(err)}`));
  }
}
