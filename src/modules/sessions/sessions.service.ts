import { randomUUID } from 'node:crypto';
import { BadRequestException, Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { Brackets, DataSource, EntityManager, Repository } from 'typeorm';
import { AppConfig } from '../../config/app.config';
import { stopReasonName } from '../../zoom/rtms-enums';
import { TokenCipher } from '../../common/crypto/token-cipher';
import { resolveCapturePolicy, zoomRoomsPasscodeAad } from './capture-policy';
import { CreateSessionDto } from './dto/create-session.dto';
import { ListSessionsQuery, PageQuery } from './dto/list-sessions.query';
import { ParticipantEntity } from './entities/participant.entity';
import { EventProcessingStatus, EventSource, SessionEventEntity } from './entities/session-event.entity';
import { SessionEntity, SessionStatus, ZoomProduct } from './entities/session.entity';
import { decodeCursor, Page, toPage } from './pagination';
import { SessionCleanupHooks } from './session-cleanup.hooks';
import { canTransition } from './session-state';
import { eventView, participantView, sessionView } from './session.views';
import { IllegalTransitionError, SessionNotFoundError } from './sessions.errors';

export interface TransitionOptions {
  source: EventSource;
  /** Why, in words (stored on the status event; failure_reason when failing). */
  reason?: string;
  /** Zoom RTMS_STOP_REASON when stopping. */
  stopReason?: number;
  /** Extra data for the status event. */
  details?: Record<string, unknown>;
}

export interface TransitionResult {
  session: SessionEntity;
  changed: boolean;
}

export interface StoredZoomEventInput {
  source: EventSource;
  eventType: string;
  dedupeKey: string;
  rtmsStreamId: string | null;
  eventTs: number | null;
  payload: Record<string, unknown>;
  /** The payload's JSON text as received, when at hand (saves serialising it again). */
  payloadJson?: string;
}

export interface RecordEventInput {
  source: EventSource;
  eventType: string;
  payload: Record<string, unknown>;
  rtmsStreamId?: string | null;
  dedupeKey?: string;
  status?: EventProcessingStatus;
  error?: string | null;
}

const METADATA_MAX_BYTES = 16 * 1024;

/** Sessions: creation, queries, and the one place a session's status changes. */
@Injectable()
export class SessionsService {
  private readonly logger = new Logger(SessionsService.name);

  constructor(
    @InjectRepository(SessionEntity) private readonly sessions: Repository<SessionEntity>,
    @InjectRepository(SessionEventEntity) private readonly events: Repository<SessionEventEntity>,
    @InjectRepository(ParticipantEntity) private readonly participants: Repository<ParticipantEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: ConfigService<AppConfig, true>,
    /** The tokens' key ring (TOKEN_ENCRYPTION_KEYS) seals capture-policy secrets too. */
    private readonly cipher: TokenCipher,
  ) {}

  defaultCapturePolicy() {
    return this.config.get('capture', { infer: true });
  }

  async create(dto: CreateSessionDto): Promise<SessionEntity> {
    const metadata = dto.metadata ?? {};
    if (Buffer.byteLength(JSON.stringify(metadata)) > METADATA_MAX_BYTES) {
      throw new BadRequestException({ code: 'metadata_too_large', message: 'metadata must be at most 16 KB as JSON' });
    }
    // The id is chosen here so a zoom_rooms passcode can be sealed bound to this row.
    const id = randomUUID();
    const sealPasscode = (plain: string) => this.cipher.encrypt(plain, zoomRoomsPasscodeAad(id));
    return this.dataSource.transaction(async (em) => {
      const session = await em.getRepository(SessionEntity).save(
        em.getRepository(SessionEntity).create({
          id,
          platform: dto.platform,
          product: ZoomProduct.Meeting,
          meetingId: dto.meeting_id,
          meetingUuid: dto.meeting_uuid ?? null,
          status: SessionStatus.Created,
          capturePolicy: resolveCapturePolicy(dto.capture_policy, this.defaultCapturePolicy(), sealPasscode) as unknown as Record<string, unknown>,
          metadata,
        }),
      );
      await this.insertEvent(em, session.id, { source: EventSource.Api, eventType: 'session.created', payload: { meeting_id: dto.meeting_id } });
      return session;
    });
  }

  async get(id: string): Promise<SessionEntity> {
    const session = await this.sessions.findOne({ where: { id } });
    if (!session) throw new SessionNotFoundError(id);
    return session;
  }

  async list(query: ListSessionsQuery): Promise<Page<ReturnType<typeof sessionView>>> {
    const limit = query.limit ?? 20;
    const cursor = decodeCursor(query.cursor);
    const qb = this.sessions.createQueryBuilder('s').orderBy('s.created_at', 'DESC').addOrderBy('s.id', 'DESC').take(limit + 1);
    if (query.status) qb.andWhere('s.status = :status', { status: query.status });
    if (query.meeting_id) qb.andWhere('s.meeting_id = :meetingId', { meetingId: query.meeting_id });
    if (query.created_from) qb.andWhere('s.created_at >= :from', { from: query.created_from });
    if (query.created_to) qb.andWhere('s.created_at < :to', { to: query.created_to });
    if (cursor) {
      qb.andWhere(
        new Brackets((w) =>
          w.where('s.created_at < :cc', { cc: cursor.createdAt }).orWhere('(s.created_at = :cc AND s.id < :ci)', { cc: cursor.createdAt, ci: cursor.id }),
        ),
      );
    }
    return toPage(await qb.getMany(), limit, sessionView);
  }

  async listEvents(sessionId: string, query: PageQuery): Promise<Page<ReturnType<typeof eventView>>> {
    await this.get(sessionId);
    const limit = query.limit ?? 50;
    const cursor = decodeCursor(query.cursor);
    const qb = this.events
      .createQueryBuilder('e')
      .where('e.session_id = :sessionId', { sessionId })
      .orderBy('e.created_at', 'DESC')
      .addOrderBy('e.id', 'DESC')
      .take(limit + 1);
    if (cursor) {
      qb.andWhere(
        new Brackets((w) =>
          w.where('e.created_at < :cc', { cc: cursor.createdAt }).orWhere('(e.created_at = :cc AND e.id < :ci)', { cc: cursor.createdAt, ci: cursor.id }),
        ),
      );
    }
    return toPage(await qb.getMany(), limit, eventView);
  }

  async listParticipants(sessionId: string) {
    await this.get(sessionId);
    const rows = await this.participants.find({ where: { sessionId }, order: { joinedAt: 'ASC', zoomUserId: 'ASC' } });
    return { data: rows.map(participantView) };
  }

  @Inject(SessionCleanupHooks) private readonly cleanupHooks: SessionCleanupHooks;

  async delete(id: string): Promise<void> {
    await this.get(id);
    await this.cleanupHooks.run(id);
    const result = await this.sessions.delete({ id });
    if (!result.affected) throw new SessionNotFoundError(id);
    this.logger.log(`Session ${id} deleted`);
  }

  /**
   * Moves a session to `to` under a row lock, so concurrent updates serialise and an
   * illegal move can never be half-applied. Moving to the current status is a no-op.
   */
  async transition(id: string, to: SessionStatus, opts: TransitionOptions, em?: EntityManager): Promise<TransitionResult> {
    const run = async (m: EntityManager): Promise<TransitionResult> => {
      const repo = m.getRepository(SessionEntity);
      const session = await repo.createQueryBuilder('s').setLock('pessimistic_write').where('s.id = :id', { id }).getOne();
      if (!session) throw new SessionNotFoundError(id);
      if (session.status === to) return { session, changed: false };
      if (!canTransition(session.status, to)) throw new IllegalTransitionError(session.status, to);
      const from = session.status;
      session.status = to;
      if (to === SessionStatus.Streaming && !session.startedAt) session.startedAt = new Date();
      if (to === SessionStatus.Stopped || to === SessionStatus.Failed) session.endedAt = new Date();
      if (to === SessionStatus.RtmsStartRequested) {
        session.endedAt = null;
        session.failureReason = null;
      }
      if (opts.stopReason !== undefined) {
        session.stopReason = opts.stopReason;
        session.stopReasonName = stopReasonName(opts.stopReason);
      }
      if (to === SessionStatus.Failed) session.failureReason = opts.reason ?? 'failed';
      const saved = await repo.save(session);
      await this.insertEvent(m, id, {
        source: opts.source,
        eventType: 'session.status_changed',
        payload: { from, to, reason: opts.reason ?? null, stop_reason: opts.stopReason ?? null, stop_reason_name: stopReasonName(opts.stopReason), ...opts.details },
      });
      this.logger.log(`Session ${id}: ${from} → ${to}${opts.reason ? ` (${opts.reason})` : ''}`);
      return { session: saved, changed: true };
    };
    return em ? run(em) : this.dataSource.transaction(run);
  }

  /**
   * Stores verified Zoom events under their dedupe keys in one statement. Returns, per
   * input in order, the new row's id, or null when that event was stored before (a
   * redelivery) or appears earlier in the same batch.
   */
  async storeZoomEvents(inputs: StoredZoomEventInput[]): Promise<Array<string | null>> {
    if (inputs.length === 0) return [];
    const params: unknown[] = [];
    const values = inputs.map((input, i) => {
      params.push(input.source, input.eventType, input.dedupeKey, input.rtmsStreamId, input.eventTs, input.payloadJson ?? JSON.stringify(input.payload));
      const b = i * 6;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, 'received')`;
    });
    const rows: Array<{ id: string; dedupe_key: string }> = await this.dataSource.query(
      `INSERT INTO session_events (source, event_type, dedupe_key, rtms_stream_id, event_ts, payload, status)
       VALUES ${values.join(', ')}
       ON CONFLICT (dedupe_key) DO NOTHING
       RETURNING id, dedupe_key`,
      params,
    );
    const byKey = new Map(rows.map((r) => [r.dedupe_key, r.id]));
    return inputs.map((input) => {
      const id = byKey.get(input.dedupeKey) ?? null;
      byKey.delete(input.dedupeKey); // a second copy in the same batch is a duplicate
      return id;
    });
  }

  getEvent(id: string): Promise<SessionEventEntity | null> {
    return this.events.findOne({ where: { id } });
  }

  /** Stored Zoom events still waiting for processing (their job may have been lost). */
  async pendingZoomEvents(olderThanMs: number, limit: number): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `SELECT id FROM session_events
        WHERE status = 'received' AND source IN ('webhook', 'event_ws') AND created_at < now() - ($1::int * interval '1 millisecond')
        ORDER BY created_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => r.id);
  }

  /** Closes a stored event: processed, ignored, rejected or failed, with its session. */
  async finishEvent(id: string, status: EventProcessingStatus, fields: { sessionId?: string | null; error?: string | null } = {}): Promise<void> {
    await this.events.update(
      { id },
      {
        status,
        processedAt: new Date(),
        ...(fields.sessionId !== undefined ? { sessionId: fields.sessionId } : {}),
        ...(fields.error !== undefined ? { error: fields.error } : {}),
      },
    );
  }

  /** Records something that happened to a session (or to no session yet: null). */
  async recordEvent(sessionId: string | null, input: RecordEventInput, em?: EntityManager): Promise<SessionEventEntity> {
    return this.insertEvent(em ?? this.dataSource.manager, sessionId, input);
  }

  private async insertEvent(em: EntityManager, sessionId: string | null, input: RecordEventInput): Promise<SessionEventEntity> {
    const repo = em.getRepository(SessionEventEntity);
    return repo.save(
      repo.create({
        sessionId,
        source: input.source,
        eventType: input.eventType,
        payload: input.payload,
        rtmsStreamId: input.rtmsStreamId ?? null,
        dedupeKey: input.dedupeKey ?? `${input.source}:${randomUUID()}`,
        status: input.status ?? EventProcessingStatus.Processed,
        error: input.error ?? null,
        processedAt: new Date(),
      }),
    );
  }

  /** Which of the given session ids exist (for modules that must not query the sessions table). */
  async existingIds(ids: string[]): Promise<Set<string>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Set();
    const rows = await this.sessions.createQueryBuilder('s').select('s.id', 'id').where('s.id = ANY(:ids)', { ids: unique }).getRawMany<{ id: string }>();
    return new Set(rows.map((r) => r.id));
  }
}
