import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { STOP_REASON_MEETING_ENDED } from '../../zoom/rtms-enums';
import { AppEventsService, AppEventType } from '../app-events';
import { RtmsStreamEntity, StreamStatus } from './entities/rtms-stream.entity';
import { EventProcessingStatus, EventSource } from './entities/session-event.entity';
import { SessionEntity, SessionStatus, ZoomProduct } from './entities/session.entity';
import { ParticipantsRepository } from './repositories/participants.repository';
import { ENDED_STREAM_STATUSES, RtmsStreamsRepository, StreamRuntimeFields } from './repositories/rtms-streams.repository';
import { SessionsRepository } from './repositories/sessions.repository';
import { SessionEventsService } from './session-events.service';
import { canTransition } from './session-state';
import { SessionsService } from './sessions.service';

export interface StartedStreamInput {
  product: ZoomProduct;
  /** meeting_uuid / webinar_uuid / session_id / engagement_id, as Zoom sent it. */
  meetingIdentity: string;
  meetingId: string | null;
  rtmsStreamId: string;
  serverUrls: string;
  source: EventSource;
}

export type StartedOutcome = 'new' | 'duplicate' | 'failover';

export interface StartedStreamResult {
  session: SessionEntity;
  stream: RtmsStreamEntity;
  outcome: StartedOutcome;
  /**
   * A failover for a stream that had failed (its worker gave up on the dead server): the
   * row was reset to pending, so the caller must queue the stream job again (its old job,
   * same id, failed for good and would make a plain enqueue a no-op).
   */
  revived?: boolean;
}

/** RTMS streams of sessions: attach, failover, stop, and the worker's runtime fields. */
@Injectable()
export class StreamsService {
  private readonly logger = new Logger(StreamsService.name);

  constructor(
    private readonly streams: RtmsStreamsRepository,
    private readonly sessionRows: SessionsRepository,
    private readonly participants: ParticipantsRepository,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly sessions: SessionsService,
    private readonly events: SessionEventsService,
    private readonly appEvents: AppEventsService,
    private readonly producer: JobProducer,
  ) {}

  findByStreamId(rtmsStreamId: string): Promise<RtmsStreamEntity | null> {
    return this.streams.findByStreamId(rtmsStreamId);
  }

  listForSession(sessionId: string): Promise<RtmsStreamEntity[]> {
    return this.streams.findBySession(sessionId);
  }

  /**
   * Applies an rtms_started: attaches the stream to the app's session for that meeting
   * (or a new one), or recognises a duplicate, or a failover to new server_urls.
   * Serialised per stream and per meeting with transaction-scoped advisory locks.
   */
  async attachStarted(input: StartedStreamInput): Promise<StartedStreamResult> {
    return this.dataSource.transaction(async (em) => {
      await this.sessionRows.lockMeeting(input.meetingIdentity, em);
      await this.streams.lockStream(input.rtmsStreamId, em);
      const existing = await this.streams.findByStreamId(input.rtmsStreamId, em);
      if (existing) {
        let session = await this.sessionRows.findByIdOrFail(existing.sessionId, em);
        // A stream whose worker gave up (failed: the old server stayed dead through the
        // reconnect window) is not over for Zoom: its failover to new server_urls is a
        // reason to run it again (rtms-protocol.md §4, pitfall 3). A stopped stream, or a
        // failed one in a stopped session, stays a duplicate.
        const revive = existing.status === StreamStatus.Failed && session.status !== SessionStatus.Stopped;
        if (existing.serverUrls === input.serverUrls || (ENDED_STREAM_STATUSES.includes(existing.status) && !revive)) {
          return { session, stream: existing, outcome: 'duplicate' as const };
        }
        const previous = existing.serverUrls;
        const previousStatus = existing.status;
        existing.serverUrls = input.serverUrls;
        existing.failoverCount += 1;
        if (revive) {
          existing.status = StreamStatus.Pending;
          existing.failureReason = null;
          existing.ownerWorkerId = null;
        }
        const stream = await this.streams.save(existing, em);
        await this.events.recordEvent(
          session.id,
          {
            source: input.source,
            eventType: 'stream.failover',
            rtmsStreamId: input.rtmsStreamId,
            payload: { previous_server_urls: previous, server_urls: input.serverUrls, ...(revive ? { previous_status: previousStatus } : {}) },
          },
          em,
        );
        if (revive) {
          // The session failed with the stream (nothing else streamed): the state machine
          // lets a failed session only be started again (failed → rtms_start_requested,
          // which clears its end), then it streams as for a new stream.
          if (session.status === SessionStatus.Failed) {
            session = await this.moveSession(em, session, SessionStatus.RtmsStartRequested, input.source, { reason: 'rtms_failover', rtmsStreamId: input.rtmsStreamId });
          }
          session = await this.moveSession(em, session, SessionStatus.Streaming, input.source, { reason: 'rtms_failover', rtmsStreamId: input.rtmsStreamId });
        }
        this.logger.warn(`Stream ${input.rtmsStreamId}: server failover (${stream.failoverCount})${revive ? ', stream was failed: run again' : ''}`);
        return { session, stream, outcome: 'failover' as const, ...(revive ? { revived: true } : {}) };
      }

      const session = await this.findOrCreateSession(em, input);
      const stream = await this.streams.insert(
        { rtmsStreamId: input.rtmsStreamId, sessionId: session.id, serverUrls: input.serverUrls, status: StreamStatus.Pending },
        em,
      );
      const updated = await this.moveSession(em, session, SessionStatus.Streaming, input.source, { reason: 'rtms_started', rtmsStreamId: input.rtmsStreamId });
      return { session: updated, stream, outcome: 'new' as const };
    });
  }

  /**
   * Applies an rtms_stopped (or stream TERMINATED): stream stopped; the session too when no
   * stream is left. A stop because the meeting ended (STOP_BC_MEETING_ENDED) queues
   * `rooms.meeting-ended` for the session, after the commit, whether or not the session
   * moved (it may have failed before): its Zoom Rooms are out of the meeting, and zoom-rooms
   * ends their dispatches so no delayed leave reaches a room that went on to another meeting.
   * Run again (the webhook and the stream worker both report a stop; a retried step), it
   * queues the job again (requeue), which finds nothing more to do.
   */
  async markStopped(rtmsStreamId: string, stopReason: number | null, source: EventSource): Promise<{ session: SessionEntity; stream: RtmsStreamEntity } | null> {
    const result = await this.applyStopped(rtmsStreamId, stopReason, source);
    if (result && stopReason === STOP_REASON_MEETING_ENDED) await this.producer.requeue(JobName.RoomsMeetingEnded, { sessionId: result.session.id });
    return result;
  }

  private async applyStopped(rtmsStreamId: string, stopReason: number | null, source: EventSource): Promise<{ session: SessionEntity; stream: RtmsStreamEntity } | null> {
    return this.dataSource.transaction(async (em) => {
      await this.streams.lockStream(rtmsStreamId, em);
      const stream = await this.streams.findByStreamId(rtmsStreamId, em);
      if (!stream) return null;
      if (!ENDED_STREAM_STATUSES.includes(stream.status)) {
        stream.status = StreamStatus.Stopped;
        stream.stopReason = stopReason;
        stream.ownerWorkerId = null;
        await this.streams.save(stream, em);
      }
      const stillOpen = await this.streams.countOpenForSession(stream.sessionId, em);
      let session = await this.sessionRows.findByIdOrFail(stream.sessionId, em);
      if (stillOpen === 0) {
        session = await this.moveSession(em, session, SessionStatus.Stopped, source, {
          reason: 'rtms_stopped',
          rtmsStreamId,
          stopReason: stopReason ?? undefined,
        });
      }
      return { session, stream };
    });
  }

  /** Marks a stream failed (worker gave up) and the session failed when nothing else streams. */
  async markFailed(rtmsStreamId: string, reason: string, source: EventSource): Promise<void> {
    await this.dataSource.transaction(async (em) => {
      const stream = await this.streams.findByStreamId(rtmsStreamId, em);
      if (!stream || ENDED_STREAM_STATUSES.includes(stream.status)) return;
      stream.status = StreamStatus.Failed;
      stream.failureReason = reason;
      stream.ownerWorkerId = null;
      await this.streams.save(stream, em);
      const stillOpen = await this.streams.countOpenForSession(stream.sessionId, em);
      if (stillOpen === 0) {
        const session = await this.sessionRows.findByIdOrFail(stream.sessionId, em);
        await this.moveSession(em, session, SessionStatus.Failed, source, { reason, rtmsStreamId });
      }
    });
  }

  /** Sets a stream's status (interrupted, active, paused…) if it has not ended. */
  async setStatus(rtmsStreamId: string, status: StreamStatus): Promise<void> {
    await this.streams.setStatusUnlessEnded(rtmsStreamId, status);
  }

  /**
   * A stream paused or resumed (msg 8): the stream's status and its session's move in one
   * transaction, so no reader sees one without the other. An ended stream keeps its
   * status; a move the session's state forbids (it stopped meanwhile) is recorded as refused.
   */
  async applyPause(rtmsStreamId: string, sessionId: string, paused: boolean, source: EventSource): Promise<void> {
    await this.dataSource.transaction(async (em) => {
      await this.streams.setStatusUnlessEnded(rtmsStreamId, paused ? StreamStatus.Paused : StreamStatus.Active, em);
      // Locked before the check, so the move checked is the move made.
      const session = await this.sessionRows.findByIdForUpdate(sessionId, em);
      if (!session) return;
      await this.moveSession(em, session, paused ? SessionStatus.Paused : SessionStatus.Streaming, source, { reason: paused ? 'rtms_paused' : 'rtms_resumed', rtmsStreamId });
    });
  }

  /** Runtime fields the stream worker keeps current; `writer` fences them by ownership (RtmsStreamsRepository.updateRuntime). */
  async updateRuntime(rtmsStreamId: string, fields: StreamRuntimeFields, writer?: string): Promise<void> {
    await this.streams.updateRuntime(rtmsStreamId, fields, writer);
  }

  /** Counts a reconnect by cause atomically (jsonb increment). */
  async countReconnect(rtmsStreamId: string, cause: string): Promise<void> {
    await this.streams.incrementReconnectCount(rtmsStreamId, cause);
  }

  /**
   * Records a participant joining (a rejoin clears left_at; a known name is kept when none
   * is given), and announces participant.joined in the same transaction when it is news:
   * a first join or a rejoin, not the repeated observation of someone already in.
   */
  async participantJoined(sessionId: string, zoomUserId: string, userName: string | null, at: Date, rtmsStreamId: string | null = null): Promise<boolean> {
    return this.dataSource.transaction(async (em) => {
      const r = await this.participants.upsertJoined(sessionId, zoomUserId, userName, at, em);
      if (r.changed) await this.announceParticipant(AppEventType.ParticipantJoined, sessionId, zoomUserId, r.userName, at, rtmsStreamId, em);
      return r.changed;
    });
  }

  /** Records a participant leaving; participant.left is announced unless they had already left. */
  async participantLeft(sessionId: string, zoomUserId: string, at: Date, rtmsStreamId: string | null = null): Promise<boolean> {
    return this.dataSource.transaction(async (em) => {
      const r = await this.participants.upsertLeft(sessionId, zoomUserId, at, em);
      if (r.changed) await this.announceParticipant(AppEventType.ParticipantLeft, sessionId, zoomUserId, r.userName, at, rtmsStreamId, em);
      return r.changed;
    });
  }

  private async announceParticipant(
    type: AppEventType,
    sessionId: string,
    zoomUserId: string,
    userName: string | null,
    at: Date,
    rtmsStreamId: string | null,
    em: EntityManager,
  ): Promise<void> {
    await this.appEvents.record({ type, sessionId, data: { rtms_stream_id: rtmsStreamId, participant: { user_id: zoomUserId, user_name: userName }, at: at.toISOString() } }, em);
  }

  private async findOrCreateSession(em: EntityManager, input: StartedStreamInput): Promise<SessionEntity> {
    // 1) An open session already bound to this meeting uuid.
    let session = await this.sessionRows.findLatestOpenByMeetingUuid(input.meetingIdentity, em);
    // 2) An app-created session for the numeric meeting id that has no uuid yet.
    if (!session && input.meetingId) {
      session = await this.sessionRows.findLatestOpenByMeetingId(input.meetingId, input.meetingIdentity, em);
    }
    // 2b) The app's session whose start Zoom refused before anything streamed: Zoom started
    // RTMS after all (the host, from the Zoom client), and the capture belongs to the app
    // that registered the meeting — its owner and capture policy (zero retention, user
    // lists), not a new session with the defaults. failed → rtms_start_requested clears its end.
    if (!session) {
      const failed = await this.sessionRows.findLatestFailedUnstarted(input.meetingIdentity, input.meetingId ?? null, em);
      if (failed) session = await this.moveSession(em, failed, SessionStatus.RtmsStartRequested, input.source, { reason: 'rtms_started', rtmsStreamId: input.rtmsStreamId });
    }
    if (session) {
      let dirty = false;
      if (!session.meetingUuid) {
        session.meetingUuid = input.meetingIdentity;
        dirty = true;
      }
      if (!session.meetingId && input.meetingId) {
        session.meetingId = input.meetingId;
        dirty = true;
      }
      if (session.product !== input.product) {
        session.product = input.product;
        dirty = true;
      }
      return dirty ? this.sessionRows.save(session, em) : session;
    }
    // 3) Zoom started RTMS on a meeting the app never registered: capture with defaults.
    const created = await this.sessionRows.insert(
      {
        platform: 'zoom',
        product: input.product,
        meetingId: input.meetingId,
        meetingUuid: input.meetingIdentity,
        status: SessionStatus.Created,
        capturePolicy: this.sessions.defaultCapturePolicy() as unknown as Record<string, unknown>,
        metadata: {},
      },
      em,
    );
    await this.events.recordEvent(created.id, { source: input.source, eventType: 'session.created', payload: { by: 'rtms_started', meeting_id: input.meetingId } }, em);
    await this.sessions.announceCreated(created, em);
    return created;
  }

  /** Moves the session if the machine allows it; otherwise records the refused move. */
  private async moveSession(
    em: EntityManager,
    session: SessionEntity,
    to: SessionStatus,
    source: EventSource,
    info: { reason: string; rtmsStreamId: string; stopReason?: number },
  ): Promise<SessionEntity> {
    if (session.status === to) return session;
    if (!canTransition(session.status, to)) {
      await this.events.recordEvent(
        session.id,
        {
          source,
          eventType: 'session.transition_refused',
          rtmsStreamId: info.rtmsStreamId,
          status: EventProcessingStatus.Rejected,
          payload: { from: session.status, to, reason: info.reason },
          error: `illegal transition ${session.status} → ${to}`,
        },
        em,
      );
      this.logger.warn(`Session ${session.id}: refused ${session.status} → ${to} (${info.reason})`);
      return session;
    }
    const { session: moved } = await this.sessions.transition(session.id, to, { source, reason: info.reason, stopReason: info.stopReason }, em);
    return moved;
  }
}
