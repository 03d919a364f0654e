import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { UnrecoverableError } from 'bullmq';
import { Counter } from 'prom-client';
import { MetricsService } from '../../common/metrics/metrics.service';
import { StreamSignalPublisher } from '../../common/stream-signals/stream-signal-publisher';
import { AppConfig } from '../../config/app.config';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { stopReasonName } from '../../zoom/rtms-enums';
import {
  APP_DEAUTHORIZED_EVENT,
  CONCURRENCY_EVENTS,
  meetingIdentityOf,
  PARTICIPANT_JOINED_EVENTS,
  productOfEvent,
  RTMS_INTERRUPTED_EVENTS,
  RTMS_STARTED_EVENTS,
  RTMS_STOPPED_EVENTS,
} from '../../zoom/webhook-events';
import { EventProcessingStatus, EventSource, ParticipantDirectory, PARTICIPANT_EMAIL_MAX, SessionEventEntity, SessionEventsService, StreamsService, StreamStatus, ZoomProduct } from '../sessions';
import { isRecord } from '../../common/types/is-record';
import { checkServerUrls } from '../../zoom/rtms/server-url-policy';

const UNKNOWN_STREAM = 'unknown rtms_stream_id';

/** Retryable: the event names a stream whose rtms_started has not been applied yet. */
export class StreamNotYetKnownError extends Error {
  constructor(eventId: string) {
    super(`Event ${eventId} names a stream that is not known yet; retrying`);
    this.name = 'StreamNotYetKnownError';
  }
}

/**
 * Retryable: a failover names a failed stream whose job is still winding down; reset now,
 * the row would be failed again by that job's last write (its final-failure hook).
 */
export class StreamJobStillEndingError extends Error {
  constructor(rtmsStreamId: string) {
    super(`Failover for failed stream ${rtmsStreamId} while its job is still ending; retrying`);
    this.name = 'StreamJobStillEndingError';
  }
}

/** `keptPayload`: what of the event's `payload` is kept (the rest of it is personal data the session keeps none of). */
type Outcome = { status: EventProcessingStatus; sessionId?: string | null; error?: string | null; keptPayload?: Record<string, unknown> };

const PRODUCTS: Record<string, ZoomProduct> = {
  meeting: ZoomProduct.Meeting,
  webinar: ZoomProduct.Webinar,
  video_sdk: ZoomProduct.VideoSdk,
  contact_center: ZoomProduct.ContactCenter,
};

function str(v: unknown): string | null {
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/**
 * Applies one stored Zoom event (the zoom-events job): sessions and streams move, the
 * stream job is queued or signalled. Idempotent: an event already applied is skipped.
 */
@Injectable()
export class ZoomEventHandlerService {
  private readonly logger = new Logger(ZoomEventHandlerService.name);
  private readonly concurrency: Counter<'event'>;

  constructor(
    private readonly events: SessionEventsService,
    private readonly streams: StreamsService,
    private readonly producer: JobProducer,
    private readonly signals: StreamSignalPublisher,
    private readonly config: ConfigService<AppConfig, true>,
    metrics: MetricsService,
    private readonly participants: ParticipantDirectory,
  ) {
    this.concurrency = metrics.counter({
      name: 'rtms_hub_rtms_concurrency_events_total',
      help: 'rtms.concurrency_* warnings received from Zoom',
      labelNames: ['event'],
    });
  }

  /**
   * @param lastAttempt true when the job will not be retried: an event about a stream we
   *   do not know yet (a stop that overtook its start) is then recorded as ignored.
   */
  async handle(eventId: string, lastAttempt = true): Promise<void> {
    const event = await this.events.getEvent(eventId);
    if (!event) throw new UnrecoverableError(`Stored event ${eventId} does not exist`);
    if (event.status !== EventProcessingStatus.Received) return; // applied before (job retried or re-queued)
    const outcome = await this.apply(event, lastAttempt);
    if (outcome.status === EventProcessingStatus.Ignored && outcome.error === UNKNOWN_STREAM && !lastAttempt) {
      // Workers process events in parallel, so a stop or interrupt can overtake the start
      // of its stream (redelivery bursts). Retry with backoff until the start has landed.
      throw new StreamNotYetKnownError(eventId);
    }
    const payload = outcome.keptPayload ? { ...event.payload, payload: outcome.keptPayload } : undefined;
    await this.events.finishEvent(event.id, outcome.status, { sessionId: outcome.sessionId, error: outcome.error, payload });
  }

  /** Called when the job will not be retried: the event stays visible as failed. */
  async markFailed(eventId: string, error: string): Promise<void> {
    await this.events.finishEvent(eventId, EventProcessingStatus.Failed, { error });
  }

  private async apply(event: SessionEventEntity, lastAttempt = true): Promise<Outcome> {
    const name = event.eventType;
    const payload = isRecord(event.payload.payload) ? event.payload.payload : {};
    // What the event causes is recorded with the event's own source (webhook or event WebSocket).
    if (RTMS_STARTED_EVENTS.has(name)) return this.started(name, payload, event.source, lastAttempt);
    if (RTMS_STOPPED_EVENTS.has(name)) return this.stopped(payload, event.source);
    if (RTMS_INTERRUPTED_EVENTS.has(name)) return this.interrupted(payload);
    if (name === APP_DEAUTHORIZED_EVENT) return this.deauthorized(event.id, payload);
    if (PARTICIPANT_JOINED_EVENTS.has(name)) return this.participantJoined(payload);
    if (CONCURRENCY_EVENTS.has(name)) {
      this.concurrency.inc({ event: name });
      this.logger.warn(`Zoom RTMS concurrency warning ${name}: ${JSON.stringify(payload)}`);
      return { status: EventProcessingStatus.Processed };
    }
    return { status: EventProcessingStatus.Ignored };
  }

  private async started(name: string, payload: Record<string, unknown>, source: EventSource, lastAttempt = true): Promise<Outcome> {
    const rtmsStreamId = str(payload.rtms_stream_id);
    const serverUrls = str(payload.server_urls);
    const identity = meetingIdentityOf(payload);
    if (!rtmsStreamId || !serverUrls || !identity) {
      return { status: EventProcessingStatus.Rejected, error: 'rtms_started without rtms_stream_id, server_urls or meeting identity' };
    }
    // Checked at intake too; checked again here because events can also arrive by other routes.
    const refusal = checkServerUrls(serverUrls, this.config.get('rtms', { infer: true }));
    if (refusal) return { status: EventProcessingStatus.Rejected, error: refusal };

    await this.waitForEndingJob(rtmsStreamId, serverUrls, lastAttempt);
    const result = await this.streams.attachStarted({
      product: PRODUCTS[productOfEvent(name)],
      meetingIdentity: identity,
      meetingId: str(payload.meeting_id) ?? str(payload.webinar_id),
      rtmsStreamId,
      serverUrls,
      source,
    });
    if (result.outcome === 'failover') {
      await this.signals.publish({ type: 'failover', rtmsStreamId, serverUrls });
    }
    if (result.revived || (result.outcome === 'duplicate' && result.stream.status === StreamStatus.Pending)) {
      // The stream must run, and a finished job of its id may still be kept (the failed
      // one of a revived stream; or a revival whose enqueue did not happen before this
      // event was retried): a plain add of that id would add nothing, so the finished job
      // is replaced. A job still waiting or running is left alone.
      await this.producer.requeue(JobName.StreamRun, { rtmsStreamId, sessionId: result.session.id });
    } else if (result.outcome !== 'duplicate') {
      // jobId = rtms_stream_id: however often this runs, one stream job exists.
      await this.producer.enqueue(JobName.StreamRun, { rtmsStreamId, sessionId: result.session.id });
    }
    this.logger.log(`RTMS started: stream ${rtmsStreamId} on session ${result.session.id} (${result.outcome})`);
    return { status: EventProcessingStatus.Processed, sessionId: result.session.id };
  }

  /**
   * A failover for a failed stream revives it (StreamsService.attachStarted). While the
   * job that gave up is still active (closing its sockets, writing its end), its final
   * failure would fail the reset row again and the new server_urls would be lost: the
   * event is retried once that job has ended (on the last attempt it goes ahead).
   */
  private async waitForEndingJob(rtmsStreamId: string, serverUrls: string, lastAttempt: boolean): Promise<void> {
    if (lastAttempt) return;
    const stream = await this.streams.findByStreamId(rtmsStreamId);
    if (stream?.status !== StreamStatus.Failed || stream.serverUrls === serverUrls) return;
    if ((await this.producer.jobState(JobName.StreamRun, { rtmsStreamId, sessionId: stream.sessionId })) === 'active') throw new StreamJobStillEndingError(rtmsStreamId);
  }

  private async stopped(payload: Record<string, unknown>, source: EventSource): Promise<Outcome> {
    const rtmsStreamId = str(payload.rtms_stream_id);
    if (!rtmsStreamId) return { status: EventProcessingStatus.Rejected, error: 'rtms_stopped without rtms_stream_id' };
    const reason = typeof payload.stop_reason === 'number' ? payload.stop_reason : null;
    const result = await this.streams.markStopped(rtmsStreamId, reason, source);
    await this.signals.publish({ type: 'stopped', rtmsStreamId, stopReason: reason });
    // STREAM_REVOKED (8): Zoom requires the stream's stored media to be deleted now.
    if (reason === 8) await this.producer.enqueue(JobName.MediaPurge, { rtmsStreamId });
    if (!result) return { status: EventProcessingStatus.Ignored, error: UNKNOWN_STREAM };
    this.logger.log(`RTMS stopped: stream ${rtmsStreamId} (${stopReasonName(reason) ?? 'no reason'})`);
    return { status: EventProcessingStatus.Processed, sessionId: result.session.id };
  }

  /**
   * The user removed our app: their tokens must go (Zoom's data-retention rule). The
   * oauth module owns them, so it is asked by job; its job id is the stored event's (src/jobs/job-ids.ts),
   * so a re-run of this event queues no second job. `processed` here means handed over:
   * the job retries for about an hour, and if it still fails the oauth module marks this
   * event `failed` with the error (OAuthDeauthorizer).
   */
  private async deauthorized(eventId: string, payload: Record<string, unknown>): Promise<Outcome> {
    const userId = str(payload.user_id);
    if (!userId) return { status: EventProcessingStatus.Rejected, error: 'app_deauthorized without user_id' };
    // The hub may take webhooks of several Zoom apps (ZOOM_WEBHOOK_SECRET_TOKEN is a list),
    // and a user who removes one of them still has granted ours: only an uninstall of the
    // app whose tokens the hub holds (ZOOM_CLIENT_ID) deletes them.
    const clientId = str(payload.client_id);
    if (!clientId) return { status: EventProcessingStatus.Rejected, error: 'app_deauthorized without client_id' };
    if (clientId !== this.config.get('zoom', { infer: true }).clientId) {
      this.logger.log(`app_deauthorized of another Zoom app (client_id ${clientId}): no connection touched`);
      return { status: EventProcessingStatus.Ignored, error: 'app_deauthorized of another Zoom app' };
    }
    const accountId = str(payload.account_id);
    // Only consents given at or before it go: Zoom retries this event for an hour, and a
    // user may have authorized again meanwhile. Unreadable or absent: every connection goes.
    // ISO 8601 only (e.g. 2019-06-17T13:52:28.632Z): Date.parse alone reads almost anything.
    const at = str(payload.deauthorization_time);
    const ms = at && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(at) ? Date.parse(at) : NaN;
    const deauthorizedAt = Number.isNaN(ms) ? null : new Date(ms).toISOString();
    await this.producer.enqueue(
      JobName.OAuthDeauthorize,
      { eventId, zoomUserId: userId, ...(accountId ? { zoomAccountId: accountId } : {}), ...(deauthorizedAt ? { deauthorizedAt } : {}) },
    );
    this.logger.log(`app_deauthorized: asked oauth to remove the user's connections`);
    return { status: EventProcessingStatus.Processed };
  }

  /**
   * meeting.participant_joined: the only place Zoom gives a participant's email (RTMS
   * does not). It is kept on the participant's row of the meeting's open session, so an
   * erasure can be asked by email (docs/retention.md "Erasure"); nothing else is taken.
   * The event (name, email) is linked to that session, with or without a usable email:
   * the session's retention, deletion and erasures then reach it. Without a session it
   * stays unlinked and goes by age (RETENTION_UNLINKED_EVENTS_DAYS).
   */
  private async participantJoined(payload: Record<string, unknown>): Promise<Outcome> {
    const object = isRecord(payload.object) ? payload.object : {};
    const participant = isRecord(object.participant) ? object.participant : {};
    const meetingUuid = str(object.uuid);
    const userId = str(participant.user_id);
    const email = str(participant.email);
    if (!meetingUuid || !userId) return { status: EventProcessingStatus.Rejected, error: 'participant_joined without object.uuid or participant.user_id' };
    const session = await this.participants.openSessionOf(meetingUuid);
    if (!session) return { status: EventProcessingStatus.Ignored, error: 'no open session for the meeting' };
    const sessionId = session.id;
    if (session.zeroRetention) {
      // Zero retention keeps nothing of a participant (docs/retention.md): no row, and the
      // stored webhook keeps only which meeting it was about.
      return { status: EventProcessingStatus.Ignored, sessionId, error: 'zero retention: nothing of the participant is kept', keptPayload: { object: { uuid: meetingUuid }, redacted: 'zero_retention' } };
    }
    if (!email || email.length > PARTICIPANT_EMAIL_MAX || !email.includes('@')) return { status: EventProcessingStatus.Ignored, sessionId, error: 'participant_joined without a usable email' };
    const userName = str(participant.user_name);
    await this.participants.recordEmail(sessionId, userId, email, userName ? userName.slice(0, 512) : null);
    return { status: EventProcessingStatus.Processed, sessionId };
  }

  private async interrupted(payload: Record<string, unknown>): Promise<Outcome> {
    const rtmsStreamId = str(payload.rtms_stream_id);
    if (!rtmsStreamId) return { status: EventProcessingStatus.Rejected, error: 'rtms_interrupted without rtms_stream_id' };
    const stream = await this.streams.findByStreamId(rtmsStreamId);
    if (!stream) return { status: EventProcessingStatus.Ignored, error: UNKNOWN_STREAM };
    await this.streams.setStatus(rtmsStreamId, StreamStatus.Interrupted);
    await this.signals.publish({ type: 'interrupted', rtmsStreamId });
    return { status: EventProcessingStatus.Processed, sessionId: stream.sessionId };
  }
}
