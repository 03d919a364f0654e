import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, In, Not, Repository } from 'typeorm';
import { ParticipantEntity } from './entities/participant.entity';
import { RtmsStreamEntity, StreamStatus } from './entities/rtms-stream.entity';
import { EventProcessingStatus, EventSource } from './entities/session-event.entity';
import { SessionEntity, SessionStatus, ZoomProduct } from './entities/session.entity';
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
}

const OPEN_SESSION_STATUSES = [SessionStatus.Created, SessionStatus.RtmsStartRequested, SessionStatus.Streaming, SessionStatus.Paused];
const ENDED_STREAM_STATUSES = [StreamStatus.Stopped, StreamStatus.Failed];

/** RTMS streams of sessions: attach, failover, stop, and the worker's runtime fields. */
@Injectable()
export class StreamsService {
  private readonly logger = new Logger(StreamsService.name);

  constructor(
    @InjectRepository(RtmsStreamEntity) private readonly streams: Repository<RtmsStreamEntity>,
    @InjectRepository(ParticipantEntity) private readonly participants: Repository<ParticipantEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly sessions: SessionsService,
  ) {}

  findByStreamId(rtmsStreamId: string): Promise<RtmsStreamEntity | null> {
    return this.streams.findOne({ where: { rtmsStreamId } });
  }

  listForSession(sessionId: string): Promise<RtmsStreamEntity[]> {
    return this.streams.find({ where: { sessionId }, order: { createdAt: 'ASC' } });
  }

  /**
   * Applies an rtms_started: attaches the stream to the app's session for that meeting
   * (or a new one), or recognises a duplicate, or a failover to new server_urls.
   * Serialised per stream and per meeting with transaction-scoped advisory locks.
   */
  async attachStarted(input: StartedStreamInput): Promise<StartedStreamResult> {
    return this.dataSource.transaction(async (em) => {
      await em.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`meeting:${input.meetingIdentity}`]);
      await em.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`stream:${input.rtmsStreamId}`]);
      const streamRepo = em.getRepository(RtmsStreamEntity);
      const existing = await streamRepo.findOne({ where: { rtmsStreamId: input.rtmsStreamId } });
      if (existing) {
        const session = await em.getRepository(SessionEntity).findOneOrFail({ where: { id: existing.sessionId } });
        if (existing.serverUrls === input.serverUrls || ENDED_STREAM_STATUSES.includes(existing.status)) {
          return { session, stream: existing, outcome: 'duplicate' as const };
        }
        const previous = existing.serverUrls;
        existing.serverUrls = input.serverUrls;
        existing.failoverCount += 1;
        const stream = await streamRepo.save(existing);
        await this.sessions.recordEvent(
          session.id,
          { source: input.source, eventType: 'stream.failover', rtmsStreamId: input.rtmsStreamId, payload: { previous_server_urls: previous, server_urls: input.serverUrls } },
          em,
        );
        this.logger.warn(`Stream ${input.rtmsStreamId}: server failover (${stream.failoverCount})`);
        return { session, stream, outcome: 'failover' as const };
      }

      const session = await this.findOrCreateSession(em, input);
      const stream = await streamRepo.save(
        streamRepo.create({ rtmsStreamId: input.rtmsStreamId, sessionId: session.id, serverUrls: input.serverUrls, status: StreamStatus.Pending }),
      );
      const updated = await this.moveSession(em, session, SessionStatus.Streaming, input.source, { reason: 'rtms_started', rtmsStreamId: input.rtmsStreamId });
      return { session: updated, stream, outcome: 'new' as const };
    });
  }

  /** Applies an rtms_stopped (or stream TERMINATED): stream stopped; the session too when no stream is left. */
  async markStopped(rtmsStreamId: string, stopReason: number | null, source: EventSource): Promise<{ session: SessionEntity; stream: RtmsStreamEntity } | null> {
    return this.dataSource.transaction(async (em) => {
      await em.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`stream:${rtmsStreamId}`]);
      const repo = em.getRepository(RtmsStreamEntity);
      const stream = await repo.findOne({ where: { rtmsStreamId } });
      if (!stream) return null;
      if (!ENDED_STREAM_STATUSES.includes(stream.status)) {
        stream.status = StreamStatus.Stopped;
        stream.stopReason = stopReason;
        stream.ownerWorkerId = null;
        await repo.save(stream);
      }
      const stillOpen = await repo.count({ where: { sessionId: stream.sessionId, status: Not(In(ENDED_STREAM_STATUSES)) } });
      let session = await em.getRepository(SessionEntity).findOneOrFail({ where: { id: stream.sessionId } });
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
      const repo = em.getRepository(RtmsStreamEntity);
      const stream = await repo.findOne({ where: { rtmsStreamId } });
      if (!stream || ENDED_STREAM_STATUSES.includes(stream.status)) return;
      stream.status = StreamStatus.Failed;
      stream.failureReason = reason;
      stream.ownerWorkerId = null;
      await repo.save(stream);
      const stillOpen = await repo.count({ where: { sessionId: stream.sessionId, status: Not(In(ENDED_STREAM_STATUSES)) } });
      if (stillOpen === 0) {
        const session = await em.getRepository(SessionEntity).findOneOrFail({ where: { id: stream.sessionId } });
        await this.moveSession(em, session, SessionStatus.Failed, source, { reason, rtmsStreamId });
      }
    });
  }

  /** Sets a stream's status (interrupted, active, paused…) if it has not ended. */
  async setStatus(rtmsStreamId: string, status: StreamStatus): Promise<void> {
    await this.streams.update({ rtmsStreamId, status: Not(In(ENDED_STREAM_STATUSES)) }, { status });
  }

  /** Runtime fields the stream worker keeps current. */
  async updateRuntime(
    rtmsStreamId: string,
    fields: Partial<Pick<RtmsStreamEntity, 'status' | 'ownerWorkerId' | 'connectedAt' | 'lastKeepaliveAt'>>,
  ): Promise<void> {
    await this.streams.update({ rtmsStreamId }, fields);
  }

  /** Counts a reconnect by cause atomically (jsonb increment). */
  async countReconnect(rtmsStreamId: string, cause: string): Promise<void> {
    await this.streams
      .createQueryBuilder()
      .update(RtmsStreamEntity)
      .set({
        reconnectCounts: () =>
          `jsonb_set(reconnect_counts, ARRAY[:cause]::text[], to_jsonb(COALESCE((reconnect_counts->>:cause)::int, 0) + 1))`,
      })
      .setParameters({ cause })
      .where('rtms_stream_id = :rtmsStreamId', { rtmsStreamId })
      .execute();
  }

  /** Records a participant joining (a rejoin clears left_at; a known name is kept when none is given). */
  async participantJoined(sessionId: string, zoomUserId: string, userName: string | null, at: Date): Promise<void> {
    await this.participants
      .createQueryBuilder()
      .insert()
      .into(ParticipantEntity)
      .values({ sessionId, zoomUserId, userName, joinedAt: at, leftAt: null })
      .orUpdate(userName === null ? ['left_at'] : ['user_name', 'left_at'], ['session_id', 'zoom_user_id'])
      .execute();
  }

  async participantLeft(sessionId: string, zoomUserId: string, at: Date): Promise<void> {
    await this.participants
      .createQueryBuilder()
      .insert()
      .into(ParticipantEntity)
      .values({ sessionId, zoomUserId, userName: null, joinedAt: null, leftAt: at })
      .orUpdate(['left_at'], ['session_id', 'zoom_user_id'])
      .execute();
  }

  private async findOrCreateSession(em: EntityManager, input: StartedStreamInput): Promise<SessionEntity> {
    const repo = em.getRepository(SessionEntity);
    // 1) An open session already bound to this meeting uuid.
    let session = await repo.findOne({
      where: { meetingUuid: input.meetingIdentity, status: In(OPEN_SESSION_STATUSES) },
      order: { createdAt: 'DESC' },
    });
    // 2) An app-created session for the numeric meeting id that has no uuid yet.
    if (!session && input.meetingId) {
      session = await repo
        .createQueryBuilder('s')
        .where('s.meeting_id = :meetingId', { meetingId: input.meetingId })
        .andWhere('s.status IN (:...statuses)', { statuses: OPEN_SESSION_STATUSES })
        .andWhere('(s.meeting_uuid IS NULL OR s.meeting_uuid = :uuid)', { uuid: input.meetingIdentity })
        .orderBy('s.created_at', 'DESC')
        .getOne();
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
      return dirty ? repo.save(session) : session;
    }
    // 3) Zoom started RTMS on a meeting the app never registered: capture with defaults.
    const created = await repo.save(
      repo.create({
        platform: 'zoom',
        product: input.product,
        meetingId: input.meetingId,
        meetingUuid: input.meetingIdentity,
        status: SessionStatus.Created,
        capturePolicy: this.sessions.defaultCapturePolicy() as unknown as Record<string, unknown>,
        metadata: {},
      }),
    );
    await this.sessions.recordEvent(created.id, { source: input.source, eventType: 'session.created', payload: { by: 'rtms_started', meeting_id: input.meetingId } }, em);
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
      await this.sessions.recordEvent(
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
