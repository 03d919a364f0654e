import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectRepository } from '@nestjs/typeorm';
import { Job, UnrecoverableError } from 'bullmq';
import { deferJobUntil } from '../../jobs/queue-processor';
import { Histogram } from 'prom-client';
import { EntityManager, FindOptionsWhere, In, Repository } from 'typeorm';
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
import { DispatchStep, RoomDispatchEntity, RoomDispatchStatus } from './entities/room-dispatch.entity';
import { RoomDispatchesService } from './room-dispatches.service';
import { passcodeAad } from './room-dispatch.views';
import { RoomsRateLimiter } from './rooms-rate-limiter';
import { RoomCall, ZoomRoomsClient } from './zoom-rooms.client';
import { errorMessage } from '../../common/errors/error-message';

/** A job sleeps in-process for its rate-limit slot up to this long; further out it goes back to delayed. */
const MAX_INPROCESS_WAIT_MS = 5_000;
const FINAL = [RoomDispatchStatus.Left, RoomDispatchStatus.Failed, RoomDispatchStatus.Cancelled];

/** Cancelled after Zoom had joined the room, which has not left yet. */
const isCancelledInMeeting = (d: RoomDispatchEntity): boolean => d.status === RoomDispatchStatus.Cancelled && d.joinedAt !== null && d.leftAt === null;

/**
 * Runs room.join / room.leave: PATCH /rooms/{id}/events through the shared rate limiter.
 *  - 2xx: joined (and a delayed room.leave with a deterministic id), or left.
 *  - 401: the S2S token is fetched again once.
 *  - 429: everybody pauses for Retry-After; the job goes back to delayed (no attempt used; capped).
 *  - 5xx / network / timeout: thrown, BullMQ retries with exponential backoff.
 *  - other 4xx (offline, wrong passcode, unknown room...): failed at once with Zoom's code and message.
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
    const res = await this.call(job, d, 'join', (token) => this.client.sendEvent(d.roomId, 'zoomroom.meeting_join', params, token));

    const joinedAt = new Date();
    const leaveAt = d.leaveAfterSeconds > 0 ? new Date(joinedAt.getTime() + d.leaveAfterSeconds * 1000) : null;
    const upd = await this.updateAndAnnounce(
      { id: d.id, status: RoomDispatchStatus.Joining, round: d.round },
      { status: RoomDispatchStatus.Joined, joinedAt, leaveAt, zoomStatus: res.status, zoomCode: null, zoomMessage: null, error: null, nextAttemptAt: null },
      d,
      AppEventType.ZoomRoomJoined,
      {},
    );
    this.client.calls.inc({ call: 'join', outcome: 'ok' });
    if (!upd.affected) {
      // DELETE arrived while Zoom was joining the room: it leaves at once.
      await this.repo.update({ id: d.id }, { joinedAt });
      await this.dispatches.leaveNow(d.id, d.round);
      this.logger.log(`Room ${d.roomId} joined meeting ${d.meetingNumber} after its dispatch ${d.id} was cancelled; leaving now`);
      return { status: RoomDispatchStatus.Cancelled };
    }
    if (leaveAt) await this.scheduleLeave(d, leaveAt);
    this.dispatches.outcomes.inc({ outcome: 'joined' });
    await this.event(d, 'zoom_room.joined', { leave_at: leaveAt?.toISOString() ?? null });
    this.logger.log(`Room ${d.roomId} joined meeting ${d.meetingNumber} (dispatch ${d.id}${leaveAt ? `, leaves in ${d.leaveAfterSeconds} s` : ', stays'})`);
    return { status: RoomDispatchStatus.Joined };
  }

  /**
   * A re-run of this round's join (BullMQ retry after a throw or a crash) finds that the
   * first run got Zoom's 202 and moved the row, but may have died before the step after
   * it: makes sure that step happened, so the room does not stay in the meeting.
   */
  private async finishInterruptedJoin(d: RoomDispatchEntity): Promise<void> {
    if (d.status === RoomDispatchStatus.Joined && d.leaveAt) {
      await this.scheduleLeave(d, d.leaveAt);
    } else if (isCancelledInMeeting(d)) {
      await this.dispatches.leaveNow(d.id, d.round);
    }
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
    const cancelledInMeeting = isCancelledInMeeting(d);
    if (d.status !== RoomDispatchStatus.Joined && d.status !== RoomDispatchStatus.Leaving && !cancelledInMeeting) return { status: d.status, skipped: true };
    if (d.status === RoomDispatchStatus.Joined) {
      await this.repo.update({ id: d.id, status: RoomDispatchStatus.Joined }, { status: RoomDispatchStatus.Leaving });
    }
    const res = await this.call(job, d, 'leave', (token) => this.client.sendEvent(d.roomId, 'zoomroom.meeting_leave', {}, token));

    const now = new Date();
    const finalStatus = cancelledInMeeting ? RoomDispatchStatus.Cancelled : RoomDispatchStatus.Left;
    await this.updateAndAnnounce(
      { id: d.id, status: In([RoomDispatchStatus.Leaving, RoomDispatchStatus.Joined, RoomDispatchStatus.Cancelled]) },
      { status: finalStatus, leftAt: now, completedAt: now, zoomStatus: res.status, zoomCode: null, zoomMessage: null, error: null, nextAttemptAt: null },
      d,
      AppEventType.ZoomRoomLeft,
      {},
    );
    this.client.calls.inc({ call: 'leave', outcome: 'ok' });
    this.dispatches.outcomes.inc({ outcome: 'left' });
    await this.event(d, 'zoom_room.left', {});
    this.logger.log(`Room ${d.roomId} left meeting ${d.meetingNumber} (dispatch ${d.id})`);
    return { status: finalStatus };
  }

  /** Attempts used up (5xx/network): the dispatch fails with the last error seen. */
  async finalFailure(dispatchId: string, step: DispatchStep, err: Error): Promise<void> {
    const d = await this.repo.findOne({ where: { id: dispatchId } });
    if (!d || FINAL.includes(d.status)) return;
    await this.fail(d, step, { error: `gave up after ${d.attempts} call(s): ${err.message}` }, false);
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
  private async call(job: Job<RoomJobPayload>, d: RoomDispatchEntity, step: DispatchStep, send: (token: string) => Promise<ZoomResponse>): Promise<ZoomResponse> {
    const call: RoomCall = step;
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
        await this.repo.increment({ id: d.id }, 'attempts', 1);
      },
      send,
      onUnauthorized: () => this.client.calls.inc({ call, outcome: 'unauthorized' }),
    });
    switch (result.outcome) {
      case 'ok':
        return result.response;
      case 'throttled':
        return this.throttled(job, d, step, result.waitSec);
      case 'retry':
        return this.retryLater(d, step, result.record);
      case 'refused':
        this.client.calls.inc({ call, outcome: 'refused' });
        return this.fail(d, step, result.record);
      case 'no_token':
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
