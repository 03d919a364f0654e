import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, QueryFailedError, Repository } from 'typeorm';
import { AppConfig } from '../../config/app.config';
import { JobProducer } from '../../jobs/job-producer.service';
import { ConnectionStatus, OAuthConnectionsService } from '../oauth';
import { ReauthorizationRequiredError } from '../../zoom/zoom-errors';
import { EventSource, SessionEntity, SessionEventsService, SessionsService, sessionView, StreamsService, streamView, ZoomProduct } from '../sessions';
import { RtmsControlBody } from './dto/rtms-control.dto';
import { ControlAuthMode, ControlRequestStatus, RtmsAction, RtmsControlRequestEntity } from './entities/rtms-control-request.entity';
import { RTMS_ACTIONS } from './rtms-actions';
import { errorMessage } from '../../common/errors/error-message';
import { RtmsControlError } from './rtms-control.errors';
import { RtmsControlErrorCode } from '../../common/errors/error-codes';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function controlRequestView(r: RtmsControlRequestEntity) {
  return {
    id: r.id,
    action: r.action,
    status: r.status,
    job_id: r.jobId,
    idempotency_key: r.idempotencyKey,
    participant_user_id: r.participantUserId,
    auth_mode: r.authMode,
    connection_id: r.connectionId,
    attempts: r.attempts,
    throttled_count: r.throttledCount,
    zoom_status: r.zoomStatus,
    zoom_code: r.zoomCode,
    zoom_message: r.zoomMessage,
    error: r.error,
    next_attempt_at: r.nextAttemptAt,
    completed_at: r.completedAt,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}

export interface ControlAccepted {
  job_id: string;
  /** True when an Idempotency-Key replay returned the first request. */
  replayed: boolean;
  request: ReturnType<typeof controlRequestView>;
  session: ReturnType<typeof sessionView>;
}

/** Unique-violation of a named index (Postgres 23505). */
function violates(err: unknown, index: string): boolean {
  if (!(err instanceof QueryFailedError)) return false;
  const driver = err.driverError as { code?: string; constraint?: string } | undefined;
  return driver?.code === '23505' && driver.constraint === index;
}

/**
 * The API side of RTMS control: checks a request against the session, records it in
 * rtms_control_requests and enqueues the durable job that calls Zoom.
 */
@Injectable()
export class RtmsControlService {
  private readonly logger = new Logger(RtmsControlService.name);

  constructor(
    @InjectRepository(RtmsControlRequestEntity) private readonly requests: Repository<RtmsControlRequestEntity>,
    private readonly sessions: SessionsService,
    private readonly events: SessionEventsService,
    private readonly streams: StreamsService,
    private readonly connections: OAuthConnectionsService,
    private readonly producer: JobProducer,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  /** How many control requests the session has (what deleting it cascades to), in `em`'s transaction. */
  countForSession(sessionId: string, em: EntityManager): Promise<number> {
    return em.getRepository(RtmsControlRequestEntity).count({ where: { sessionId } });
  }

  /** `owner`: the caller's owner tag; another owner's session is not found, and only that owner's connections act. */
  async request(sessionId: string, action: RtmsAction, body: RtmsControlBody, idempotencyKey?: string, owner?: string | null): Promise<ControlAccepted> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new RtmsControlError(RtmsControlErrorCode.InvalidIdempotencyKey, 'Idempotency-Key must be 1-255 printable ASCII characters');
    }
    const session = await this.sessions.get(sessionId, owner);
    const hash = createHash('sha256')
      .update(JSON.stringify({ action, participant_user_id: body.participant_user_id ?? null, connection_id: body.connection_id ?? null }))
      .digest('hex');

    if (idempotencyKey) {
      const first = await this.requests.findOne({ where: { sessionId, idempotencyKey } });
      if (first) return this.replay(first, hash, session);
    }

    this.checkControllable(session, action);
    const auth = await this.resolveAuth(body.connection_id, owner);

    let saved: RtmsControlRequestEntity;
    try {
      saved = await this.requests.save(
        this.requests.create({
          sessionId,
          action,
          status: ControlRequestStatus.Queued,
          idempotencyKey: idempotencyKey ?? null,
          requestHash: hash,
          participantUserId: body.participant_user_id ?? null,
          authMode: auth.mode,
          connectionId: auth.connectionId,
        }),
      );
    } catch (err) {
      const inFlight = violates(err, 'UQ_rtms_control_requests_in_flight');
      if (idempotencyKey && (inFlight || violates(err, 'UQ_rtms_control_requests_idempotency'))) {
        // The same key raced us (either index may fire first); the winner's request is the answer.
        const first = await this.requests.findOne({ where: { sessionId, idempotencyKey } });
        if (first) return this.replay(first, hash, session);
      }
      if (inFlight) {
        throw new RtmsControlError(RtmsControlErrorCode.ControlRequestInProgress, 'Another RTMS control request for this session is still in progress');
      }
      throw err;
    }

    try {
      saved.jobId = (await this.producer.enqueue(RTMS_ACTIONS[action].job, { sessionId, requestId: saved.id })).id ?? saved.id;
    } catch (err) {
      // Only a request its job never picked up: one that ran meanwhile keeps its outcome.
      await this.requests.update({ id: saved.id, status: ControlRequestStatus.Queued }, { status: ControlRequestStatus.Failed, error: 'could not be queued', completedAt: new Date() });
      this.logger.error(`Could not enqueue RTMS ${action} for session ${sessionId}: ${errorMessage(err)}`);
      throw new RtmsControlError(RtmsControlErrorCode.QueueUnavailable, 'The request could not be queued; try again');
    }
    // The job id is the request id; the column only shows it.
    await this.requests.update({ id: saved.id }, { jobId: saved.jobId });
    await this.events.recordEvent(sessionId, {
      source: EventSource.Api,
      eventType: `rtms.${action}_requested`,
      payload: { request_id: saved.id, job_id: saved.jobId, auth_mode: auth.mode, connection_id: auth.connectionId, participant_user_id: saved.participantUserId },
    });
    this.logger.log(`RTMS ${action} requested for session ${sessionId} (request ${saved.id})`);
    const fresh = await this.requests.findOneByOrFail({ id: saved.id });
    return { job_id: saved.jobId as string, replayed: false, request: controlRequestView(fresh), session: sessionView(session) };
  }

  /** The last control request, its outcome, and the stream state. */
  async status(sessionId: string, owner?: string | null) {
    const session = await this.sessions.get(sessionId, owner);
    const [last] = await this.requests.find({ where: { sessionId }, order: { createdAt: 'DESC' }, take: 1 });
    const streams = await this.streams.listForSession(sessionId);
    const current = streams[streams.length - 1];
    return {
      session_id: session.id,
      session_status: session.status,
      failure_reason: session.failureReason,
      stop_reason: session.stopReason,
      stop_reason_name: session.stopReasonName,
      stream: current ? streamView(current) : null,
      last_request: last ? controlRequestView(last) : null,
    };
  }

  getRequest(id: string): Promise<RtmsControlRequestEntity | null> {
    return this.requests.findOne({ where: { id } });
  }

  private async replay(first: RtmsControlRequestEntity, hash: string, session: SessionEntity): Promise<ControlAccepted> {
    if (first.requestHash !== hash) {
      throw new RtmsControlError(RtmsControlErrorCode.IdempotencyKeyReused, 'This Idempotency-Key was used for a different request on this session');
    }
    return { job_id: first.jobId ?? first.id, replayed: true, request: controlRequestView(first), session: sessionView(await this.sessions.get(session.id)) };
  }

  private checkControllable(session: SessionEntity, action: RtmsAction): void {
    if (session.platform !== 'zoom' || !session.meetingId || (session.product !== ZoomProduct.Meeting && session.product !== ZoomProduct.Webinar)) {
      throw new RtmsControlError(RtmsControlErrorCode.SessionNotControllable, 'RTMS control needs a Zoom meeting session with a numeric meeting_id');
    }
    const rule = RTMS_ACTIONS[action];
    if (!rule.from.includes(session.status)) {
      throw new RtmsControlError(RtmsControlErrorCode.InvalidSessionState, `Cannot ${action} RTMS while the session is ${session.status} (allowed from: ${rule.from.join(', ')})`);
    }
  }

  private async resolveAuth(connectionId: string | undefined, owner: string | null | undefined): Promise<{ mode: ControlAuthMode; connectionId: string | null }> {
    if (connectionId) {
      const conn = await this.connections.get(connectionId, owner);
      if (conn.status !== ConnectionStatus.Active) throw new ReauthorizationRequiredError(conn.id);
      return { mode: ControlAuthMode.User, connectionId: conn.id };
    }
    const zoom = this.config.get('zoom', { infer: true });
    if (zoom.s2sClientId && zoom.s2sClientSecret && zoom.accountId) return { mode: ControlAuthMode.Account, connectionId: null };
    const active = await this.connections.list({ status: ConnectionStatus.Active, owner: owner ?? undefined });
    if (active.length === 1) return { mode: ControlAuthMode.User, connectionId: active[0].id };
    throw new RtmsControlError(
      RtmsControlErrorCode.ConnectionRequired,
      active.length === 0
        ? 'No Zoom user is connected and no Server-to-Server app is configured: connect one at /api/v1/oauth/zoom/authorize'
        : 'Several Zoom users are connected: say which one acts with connection_id',
    );
  }
}
