import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { Job, UnrecoverableError } from 'bullmq';
import { deferJobUntil } from '../../jobs/queue-processor';
import { Counter } from 'prom-client';
import { DataSource, EntityManager, In, Not, Repository } from 'typeorm';
import { MetricsService } from '../../common/metrics/metrics.service';
import { AppConfig } from '../../config/app.config';
import { RtmsControlPayload } from '../../jobs/job-payloads';
import { ZoomError, ZoomNotConfiguredError } from '../../zoom/zoom-errors';
import { ZoomCallOutcome, ZoomHttpClient } from '../../zoom/http/zoom-http.client';
import { ZoomCallPolicy, ZoomCallRetryableError } from '../../zoom/call/zoom-call-policy';
import { ZoomS2sTokenService } from '../../zoom/auth/zoom-s2s-token.service';
import { ZoomTokenProvider } from '../../zoom/auth/zoom-token.provider';
import { EventSource, IllegalTransitionError, SessionEventsService, SessionsService, SessionStatus, StreamsService } from '../sessions';
import { StreamSignalPublisher } from '../../common/stream-signals/stream-signal-publisher';
import { ControlAuthMode, ControlRequestStatus, RtmsAction, RtmsControlRequestEntity } from './entities/rtms-control-request.entity';
import { RTMS_ACTIONS, STOP_REASON_MANUAL_API } from './rtms-actions';
import { errorMessage } from '../../common/errors/error-message';

/** 429s per request before giving up (they do not use job attempts). */
export const MAX_THROTTLED = 10;

const FINAL = [ControlRequestStatus.Succeeded, ControlRequestStatus.Failed];

/**
 * Runs one rtms-control job: PATCH /live_meetings/{meetingId}/rtms_app/status.
 *  - 2xx: success, the session moves on.
 *  - 401: refresh (or re-fetch the S2S token) once and retry at once.
 *  - 429: the job is moved to delayed until Retry-After (no attempt used; capped).
 *  - 5xx / network / timeout: thrown, so BullMQ retries with exponential backoff.
 *  - other 4xx: fails at once with Zoom's code and message recorded (no blind retries).
 */
@Injectable()
export class RtmsControlRunner {
  private readonly logger = new Logger(RtmsControlRunner.name);
  private readonly outcomes: Counter<'action' | 'outcome'>;

  constructor(
    @InjectRepository(RtmsControlRequestEntity) private readonly requests: Repository<RtmsControlRequestEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly sessions: SessionsService,
    private readonly events: SessionEventsService,
    private readonly streams: StreamsService,
    private readonly signals: StreamSignalPublisher,
    private readonly http: ZoomHttpClient,
    private readonly policy: ZoomCallPolicy,
    private readonly tokens: ZoomTokenProvider,
    private readonly s2s: ZoomS2sTokenService,
    private readonly config: ConfigService<AppConfig, true>,
    metrics: MetricsService,
  ) {
    this.outcomes = metrics.counter({
      name: 'rtms_hub_rtms_control_calls_total',
      help: 'Calls to Zoom rtms_app/status by action and outcome (ok, throttled, retry, failed, unauthorized)',
      labelNames: ['action', 'outcome'],
    });
  }

  async run(job: Job<RtmsControlPayload>, action: RtmsAction): Promise<{ status: ControlRequestStatus; zoomStatus?: number }> {
    const req = await this.requests.findOne({ where: { id: job.data.requestId } });
    if (!req || req.sessionId !== job.data.sessionId) throw new UnrecoverableError(`control request ${job.data.requestId} does not exist`);
    if (req.action !== action) throw new UnrecoverableError(`job ${job.name} does not match request action ${req.action}`);
    if (FINAL.includes(req.status)) return { status: req.status }; // a redelivered job

    const session = await this.sessions.get(req.sessionId);
    if (!session.meetingId) return this.fail(req, { error: 'session has no meeting_id' });
    const clientId = this.config.get('zoom', { infer: true }).clientId;
    if (!clientId) return this.fail(req, { error: 'ZOOM_CLIENT_ID is not configured' });

    await this.requests.update({ id: req.id }, { status: ControlRequestStatus.Running, nextAttemptAt: null });
    const body = { action, settings: { client_id: clientId, ...(req.participantUserId ? { participant_user_id: req.participantUserId } : {}) } };
    const url = `${this.config.get('zoom', { infer: true }).apiBaseUrl}/live_meetings/${encodeURIComponent(session.meetingId)}/rtms_app/status`;

    // The streams open when we ask Zoom to stop: once Zoom accepts, their workers close them
    // at once (read now, because Zoom may end them, and their rows, before it answers).
    const openStreams = action === 'stop' ? await this.openStreams(req.sessionId) : [];
    const result = await this.policy.call({
      operation: `RTMS ${action}`,
      token: { get: () => this.token(req), refresh: (rejected) => this.token(req, rejected) },
      beforeSend: async () => {
        await this.requests.increment({ id: req.id }, 'attempts', 1);
      },
      send: (token) => this.http.send({ method: 'PATCH', url, operation: `RTMS ${action}`, bearer: token, json: body }),
      onUnauthorized: () => this.outcomes.inc({ action, outcome: 'unauthorized' }),
    });

    switch (result.outcome) {
      case 'ok':
        return this.succeed(req, action, result.response.status, openStreams);
      case 'throttled': {
        const throttled = req.throttledCount + 1;
        if (throttled > MAX_THROTTLED) return this.fail(req, { ...result.record, error: `Zoom rate-limited this request ${throttled} times` });
        const at = new Date(Date.now() + result.waitSec * 1000);
        await this.requests.update({ id: req.id }, { status: ControlRequestStatus.Retrying, throttledCount: throttled, nextAttemptAt: at, ...result.record });
        this.outcomes.inc({ action, outcome: 'throttled' });
        this.logger.warn(`RTMS ${action} for session ${req.sessionId} rate-limited; retrying in ${result.waitSec} s`);
        return deferJobUntil(job, at);
      }
      case 'retry':
        return this.retryLater(req, result.record);
      case 'refused':
        // 401 after a refresh, 400 (2308, 2310...), 403, 404...: retrying will not help.
        return this.fail(req, result.record);
      case 'no_token': {
        const code = result.cause instanceof ZoomError ? result.cause.code : null;
        return this.fail(req, { zoomCode: null, error: `no usable Zoom token${code ? ` (${code})` : ''}: ${errorMessage(result.cause)}` });
      }
    }
  }

  /**
   * The job will not run again (attempts exhausted): the request fails with what was
   * last seen. Idempotent, so a failure this runner already recorded stays as it is.
   */
  async finalFailure(requestId: string, err: Error): Promise<void> {
    const req = await this.requests.findOne({ where: { id: requestId } });
    if (!req || FINAL.includes(req.status)) return;
    await this.fail(req, { error: `gave up after ${req.attempts} attempt(s): ${err.message}` }, false);
  }

  private async token(req: RtmsControlRequestEntity, rejected?: string): Promise<string> {
    if (req.authMode === ControlAuthMode.Account) {
      if (rejected) await this.s2s.invalidate(rejected);
      return this.s2s.getAccountToken();
    }
    if (!req.connectionId) throw new ZoomNotConfiguredError('user connection for this request');
    return this.tokens.getAccessToken(req.connectionId, { rejectedToken: rejected });
  }

  /** The session moves on and the request succeeds in one transaction: a crash leaves both as they were, for the retry. */
  private async succeed(req: RtmsControlRequestEntity, action: RtmsAction, zoomStatus: number, openStreams: string[]): Promise<{ status: ControlRequestStatus; zoomStatus: number }> {
    const rule = RTMS_ACTIONS[action];
    await this.dataSource.transaction(async (em) => {
      await this.transitionUnlessMoved(
        req.sessionId,
        rule.to,
        {
          source: EventSource.Worker,
          reason: `RTMS ${action} accepted by Zoom`,
          ...(action === 'stop' ? { stopReason: STOP_REASON_MANUAL_API } : {}),
          details: { request_id: req.id, zoom_status: zoomStatus },
        },
        em,
        // Zoom accepted, but the session moved meanwhile (e.g. a webhook stopped it).
        (err) => this.logger.warn(`RTMS ${action} accepted for session ${req.sessionId}, but ${err.message}`),
      );
      await em.getRepository(RtmsControlRequestEntity).update(
        { id: req.id, status: Not(In(FINAL)) },
        { status: ControlRequestStatus.Succeeded, zoomStatus, zoomCode: null, zoomMessage: null, error: null, nextAttemptAt: null, completedAt: new Date() },
      );
    });
    if (action === 'stop') await this.signalClose(openStreams);
    this.outcomes.inc({ action, outcome: 'ok' });
    this.logger.log(`RTMS ${action} accepted by Zoom for session ${req.sessionId} (HTTP ${zoomStatus})`);
    return { status: ControlRequestStatus.Succeeded, zoomStatus };
  }

  /**
   * A move the state machine refuses (the session went elsewhere meanwhile) is reported
   * and skipped; it throws before writing, so the transaction around it carries on.
   */
  private async transitionUnlessMoved(
    sessionId: string,
    to: SessionStatus,
    opts: Parameters<SessionsService['transition']>[2],
    em: EntityManager,
    refused: (err: IllegalTransitionError) => void = () => undefined,
  ): Promise<void> {
    try {
      await this.sessions.transition(sessionId, to, opts, em);
    } catch (err) {
      if (!(err instanceof IllegalTransitionError)) throw err;
      refused(err);
    }
  }

  private async openStreams(sessionId: string): Promise<string[]> {
    return (await this.streams.listForSession(sessionId)).filter((s) => !['stopped', 'failed'].includes(s.status)).map((s) => s.rtmsStreamId);
  }

  /**
   * After a stop our own API asked for, the worker holding each stream sends
   * STREAM_CLOSE_REQ at once instead of waiting for Zoom's rtms_stopped webhook (a worker
   * whose stream already ended ignores the signal).
   */
  private async signalClose(rtmsStreamIds: string[]): Promise<void> {
    for (const rtmsStreamId of rtmsStreamIds) {
      await this.signals.publish({ type: 'close', rtmsStreamId }).catch((err: unknown) => {
        this.logger.warn(`Could not signal close for stream ${rtmsStreamId}: ${errorMessage(err)}`);
      });
    }
  }

  private async retryLater(req: RtmsControlRequestEntity, outcome: ZoomCallOutcome): Promise<never> {
    await this.requests.update({ id: req.id }, { status: ControlRequestStatus.Retrying, ...outcome });
    this.outcomes.inc({ action: req.action, outcome: 'retry' });
    throw new ZoomCallRetryableError(outcome.error ?? 'retryable Zoom failure');
  }

  /**
   * Records a permanent failure on the request, the session's timeline and (for a start)
   * the session, in one transaction: a crash between them would leave a final request
   * that no retry revisits beside a session still waiting for it. Then stops the job.
   */
  private async fail(req: RtmsControlRequestEntity, outcome: ZoomCallOutcome, throwAfter = true): Promise<never> {
    const reason = outcome.error ?? 'failed';
    const recorded = await this.dataSource.transaction(async (em) => {
      const updated = await em
        .getRepository(RtmsControlRequestEntity)
        .update({ id: req.id, status: Not(In(FINAL)) }, { status: ControlRequestStatus.Failed, ...outcome, nextAttemptAt: null, completedAt: new Date() });
      if (!updated.affected) return false;
      await this.events.recordEvent(
        req.sessionId,
        {
          source: EventSource.Worker,
          eventType: `rtms.${req.action}_failed`,
          payload: { request_id: req.id, zoom_status: outcome.zoomStatus ?? null, zoom_code: outcome.zoomCode ?? null, zoom_message: outcome.zoomMessage ?? null, error: reason },
        },
        em,
      );
      // A start Zoom refused fails a session that is still only waiting for it, with
      // Zoom's reason. Not one that streams, paused or ended meanwhile: a start that timed
      // out may have worked, or the host started RTMS from the Zoom client, and the
      // capture under way is not what failed. A refused stop/pause/resume leaves the
      // stream as it is. Either way the event above records the refusal.
      if (req.action === 'start') {
        const details = { request_id: req.id, zoom_code: outcome.zoomCode ?? null };
        await this.transitionUnlessMoved(req.sessionId, SessionStatus.Failed, { source: EventSource.Worker, reason, details, onlyFrom: [SessionStatus.Created] }, em);
      }
      return true;
    });
    if (recorded) {
      this.outcomes.inc({ action: req.action, outcome: 'failed' });
      this.logger.warn(`RTMS ${req.action} for session ${req.sessionId} failed: ${reason}`);
    }
    if (throwAfter) throw new UnrecoverableError(outcome.error ?? 'failed');
    return undefined as never;
  }
}
