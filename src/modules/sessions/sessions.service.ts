import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AppConfig } from '../../config/app.config';
import { AfterCommit } from '../../database/after-commit';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { AppEventsService, AppEventType } from '../app-events';
import { DeletionLogService, DeletionReason } from '../deletion-log';
import { stopReasonName } from '../../zoom/rtms-enums';
import { TokenCipher } from '../../common/crypto/token-cipher';
import { CapturePolicy, resolveCapturePolicy, resolveDefaultCapturePolicy, zoomRoomsPasscodeAad } from './capture-policy';
import { CreateSessionDto } from './dto/create-session.dto';
import type { ReceivedCounts } from './received-counts';
import { ListSessionsQuery } from './dto/list-sessions.query';
import { EventSource } from './entities/session-event.entity';
import { SessionEntity, SessionStatus, ZoomProduct } from './entities/session.entity';
import {decodeCursor, Page } from '../../common/http/pagination';
import { keysetToPage } from '../../common/http/keyset-page';
import { ParticipantsRepository } from './repositories/participants.repository';
import { EndedSession, SessionsRepository } from './repositories/sessions.repository';
import { SessionCleanupHooks } from './session-cleanup.hooks';
import { SessionEventsService } from './session-events.service';
import { canTransition } from './session-state';
import { retentionClockFrom } from './retention-clock';
import { participantView, sessionView } from './session.views';
import { SessionErrorCode } from '../../common/errors/error-codes';
import { IllegalTransitionError, SessionError, SessionNotFoundError, SessionOnLegalHoldError } from './sessions.errors';

export interface TransitionOptions {
  source: EventSource;
  /** Why, in words (stored on the status event; failure_reason when failing). */
  reason?: string;
  /** Zoom RTMS_STOP_REASON when stopping. */
  stopReason?: number;
  /** Extra data for the status event. */
  details?: Record<string, unknown>;
  /**
   * Move only from these statuses (checked under the row lock): from any other the session
   * stays as it is and the result says `changed: false`. For a move that is right only
   * while nothing else has happened to the session (a refused start fails a session that
   * never streamed, not one Zoom started meanwhile).
   */
  onlyFrom?: readonly SessionStatus[];
}

export interface TransitionResult {
  session: SessionEntity;
  changed: boolean;
}

const METADATA_MAX_BYTES = 16 * 1024;

/** A deleted session takes every kind of data it had. */
const SESSION_CATEGORIES = ['media', 'transcript', 'chat', 'events', 'participants', 'session'];

/** Sessions: creation, queries, and the one place a session's status changes. */
@Injectable()
export class SessionsService {
  private readonly logger = new Logger(SessionsService.name);
  /** CAPTURE_* as a session gets them (checked at boot; H.264's frame rate filled in). */
  private readonly captureDefaults: CapturePolicy;

  constructor(
    private readonly sessions: SessionsRepository,
    private readonly participants: ParticipantsRepository,
    private readonly events: SessionEventsService,
    private readonly cleanupHooks: SessionCleanupHooks,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: ConfigService<AppConfig, true>,
    /** The tokens' key ring (TOKEN_ENCRYPTION_KEYS) seals capture-policy secrets too. */
    private readonly cipher: TokenCipher,
    private readonly appEvents: AppEventsService,
    private readonly producer: JobProducer,
    private readonly afterCommit: AfterCommit,
    private readonly deletionLog: DeletionLogService,
  ) {
    this.captureDefaults = resolveDefaultCapturePolicy(config.get('capture', { infer: true }));
  }

  defaultCapturePolicy(): CapturePolicy {
    return this.captureDefaults;
  }

  /** `owner`: the creating key's owner tag (only keys of that owner, and unscoped keys, see the session). */
  async create(dto: CreateSessionDto, owner: string | null = null): Promise<SessionEntity> {
    const metadata = dto.metadata ?? {};
    if (Buffer.byteLength(JSON.stringify(metadata)) > METADATA_MAX_BYTES) {
      throw new SessionError(SessionErrorCode.MetadataTooLarge, 'metadata must be at most 16 KB as JSON');
    }
    // The id is chosen here so a zoom_rooms passcode can be sealed bound to this row.
    const id = randomUUID();
    const sealPasscode = (plain: string) => this.cipher.encrypt(plain, zoomRoomsPasscodeAad(id));
    return this.dataSource.transaction(async (em) => {
      // Zoom sends one stream per meeting, and it goes to the meeting's open session: a
      // second owner registering the same meeting would take over the first one's capture.
      await this.sessions.lockMeetingId(dto.meeting_id, em);
      if (dto.meeting_uuid) await this.sessions.lockMeeting(dto.meeting_uuid, em);
      if (await this.sessions.openSessionOfAnotherOwner(dto.meeting_id, dto.meeting_uuid ?? null, owner, em)) {
        throw new SessionError(SessionErrorCode.MeetingRegisteredByAnotherOwner, 'an open session of another owner is registered for this meeting');
      }
      const session = await this.sessions.insert(
        {
          id,
          platform: dto.platform,
          product: ZoomProduct.Meeting,
          meetingId: dto.meeting_id,
          meetingUuid: dto.meeting_uuid ?? null,
          status: SessionStatus.Created,
          capturePolicy: resolveCapturePolicy(dto.capture_policy, this.defaultCapturePolicy(), sealPasscode) as unknown as Record<string, unknown>,
          metadata,
          owner,
        },
        em,
      );
      await this.events.recordEvent(session.id, { source: EventSource.Api, eventType: 'session.created', payload: { meeting_id: dto.meeting_id } }, em);
      await this.announceCreated(session, em);
      return session;
    });
  }

  /**
   * The session, or SessionNotFoundError. With an `owner`, a session of another owner
   * (or of none) is not found either: an owner-scoped key never learns it exists.
   */
  async get(id: string, owner?: string | null): Promise<SessionEntity> {
    const session = await this.sessions.findById(id, undefined, owner);
    if (!session) throw new SessionNotFoundError(id);
    return session;
  }

  async list(query: ListSessionsQuery, owner?: string | null): Promise<Page<ReturnType<typeof sessionView>>> {
    const limit = query.limit ?? 20;
    const cursor = decodeCursor(query.cursor);
    const rows = await this.sessions.findPage(
      { status: query.status, meetingId: query.meeting_id, createdFrom: query.created_from, createdTo: query.created_to, owner: owner ?? undefined },
      limit,
      cursor,
    );
    return keysetToPage(rows, limit, sessionView);
  }

  async listParticipants(sessionId: string, owner?: string | null) {
    await this.get(sessionId, owner);
    const rows = await this.participants.findBySession(sessionId);
    return { data: rows.map(participantView) };
  }

  /**
   * Deletes a session: other modules' cleanup first (its stored media), then the row
   * (cascading to its streams, events, participants and media rows) with the rows other
   * modules keep about it without a foreign key (its app events and their webhook
   * messages), recorded in the deletion log — and announced as media.deleted — in the
   * same transaction. Both outlive the row (neither has a foreign key to sessions).
   * `apiKeyFingerprint`: the key that asked (the trail keeps its fingerprint, never the key).
   */
  async delete(id: string, owner?: string | null, apiKeyFingerprint?: string | null): Promise<void> {
    if ((await this.get(id, owner)).legalHoldAt) throw new SessionOnLegalHoldError(id);
    const { entry, stored } = await this.dataSource.transaction(async (em) => {
      // Locked from the start, before its stored media is deleted: a legal hold placed
      // meanwhile (placeHold locks the row for update) or a second DELETE waits for this
      // deletion and then finds no session (404), instead of holding a session whose media
      // is already gone. NO KEY UPDATE, not SHARE: two deletes sharing the lock would each
      // wait for the other to upgrade it (a deadlock, answered 500); media inserts (their
      // foreign key's KEY SHARE) still go through while the storage is cleaned.
      const session = await this.sessions.findByIdForNoKeyUpdate(id, em, owner);
      if (!session) throw new SessionNotFoundError(id);
      if (session.legalHoldAt) throw new SessionOnLegalHoldError(id);
      const stored = await this.cleanupHooks.run(id);
      // Under the lock: the counts are of the rows this transaction deletes, not of a moment before.
      const rowsDeleted = { ...(await this.sessions.countCascade(id, em)), ...(await this.cleanupHooks.countRows(id, em)), ...(await this.cleanupHooks.deleteRows(id, em)) };
      if (!(await this.sessions.deleteById(id, em))) throw new SessionNotFoundError(id);
      const entry = await this.deletionLog.record(
        {
          reason: DeletionReason.SessionDeleted,
          sessionId: id,
          categories: SESSION_CATEGORIES,
          objectsDeleted: stored.objects,
          bytesDeleted: stored.bytes,
          rowsDeleted,
          apiKeyFingerprint: apiKeyFingerprint ?? null,
          owner: session.owner,
        },
        em,
      );
      return { entry, stored };
    });
    this.logger.log(`Session ${id} deleted (deletion ${entry.id}: ${stored.objects} object(s), ${stored.bytes} bytes)`);
  }

  /** session.created, with the session as GET /sessions/:id shows it (in the transaction that created it). */
  async announceCreated(session: SessionEntity, em: EntityManager): Promise<void> {
    await this.appEvents.record({ type: AppEventType.SessionCreated, sessionId: session.id, data: { session: sessionView(session) } }, em);
  }

  /**
   * Moves a session to `to` under a row lock, so concurrent updates serialise and an
   * illegal move can never be half-applied. Moving to the current status is a no-op.
   */
  async transition(id: string, to: SessionStatus, opts: TransitionOptions, em?: EntityManager): Promise<TransitionResult> {
    const run = async (m: EntityManager): Promise<TransitionResult> => {
      const session = await this.sessions.findByIdForUpdate(id, m);
      if (!session) throw new SessionNotFoundError(id);
      if (session.status === to) return { session, changed: false };
      if (opts.onlyFrom && !opts.onlyFrom.includes(session.status)) return { session, changed: false };
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
      session.retentionFrom = retentionClockFrom(session);
      if (to === SessionStatus.RtmsStartRequested || to === SessionStatus.Streaming) {
        // Captured again: what the sweep purged before is no longer all there is.
        session.mediaPurgedAt = session.transcriptPurgedAt = session.eventsPurgedAt = null;
      }
      const saved = await this.sessions.save(session, m);
      await this.events.recordEvent(
        id,
        {
          source: opts.source,
          eventType: 'session.status_changed',
          payload: { from, to, reason: opts.reason ?? null, stop_reason: opts.stopReason ?? null, stop_reason_name: stopReasonName(opts.stopReason), ...opts.details },
        },
        m,
      );
      await this.appEvents.record(
        {
          type: AppEventType.SessionStatusChanged,
          sessionId: id,
          data: {
            status: to,
            previous_status: from,
            reason: opts.reason ?? null,
            stop_reason: opts.stopReason ?? null,
            stop_reason_name: stopReasonName(opts.stopReason),
            failure_reason: to === SessionStatus.Failed ? saved.failureReason : null,
          },
        },
        m,
      );
      if (to === SessionStatus.Stopped || to === SessionStatus.Failed) {
        // Media-ingest decides whether the recording is complete (recording.ready); it must see the committed status.
        await this.afterCommit.run(m, () => this.producer.enqueue(JobName.RecordingCheck, { sessionId: id }));
      }
      this.logger.log(`Session ${id}: ${from} → ${to}${opts.reason ? ` (${opts.reason})` : ''}`);
      return { session: saved, changed: true };
    };
    return em ? run(em) : this.dataSource.transaction(run);
  }

  /** Adds what a stream received to the session's received_counts (a missing session changes nothing). */
  addReceivedCounts(id: string, delta: ReceivedCounts): Promise<void> {
    return this.sessions.addReceivedCounts(id, delta);
  }

  /**
   * Places (or updates) a legal hold: while it is set, retention and erasure leave the
   * session's data alone. Under the row lock, so a retention batch running now either
   * finished before or sees the hold and stops.
   */
  async placeHold(id: string, hold: { reason: string | null; by: string }, owner?: string | null): Promise<SessionEntity> {
    return this.dataSource.transaction(async (em) => {
      const session = await this.sessions.findByIdForUpdate(id, em, owner);
      if (!session) throw new SessionNotFoundError(id);
      const first = session.legalHoldAt === null;
      session.legalHoldAt = session.legalHoldAt ?? new Date();
      session.legalHoldReason = hold.reason;
      session.legalHoldBy = hold.by;
      const saved = await this.sessions.save(session, em);
      await this.events.recordEvent(id, { source: EventSource.Api, eventType: first ? 'session.legal_hold_placed' : 'session.legal_hold_updated', payload: { by: hold.by } }, em);
      this.logger.log(`Session ${id}: legal hold ${first ? 'placed' : 'updated'} by key ${hold.by}`);
      return saved;
    });
  }

  /** Releases a legal hold (a no-op when there is none): retention applies again from the next sweep. */
  async releaseHold(id: string, by: string, owner?: string | null): Promise<SessionEntity> {
    return this.dataSource.transaction(async (em) => {
      const session = await this.sessions.findByIdForUpdate(id, em, owner);
      if (!session) throw new SessionNotFoundError(id);
      if (session.legalHoldAt === null) return session;
      session.legalHoldAt = null;
      session.legalHoldReason = null;
      session.legalHoldBy = null;
      const saved = await this.sessions.save(session, em);
      await this.events.recordEvent(id, { source: EventSource.Api, eventType: 'session.legal_hold_released', payload: { by } }, em);
      this.logger.log(`Session ${id}: legal hold released by key ${by}`);
      return saved;
    });
  }

  /** Which of the given session ids exist (for modules that must not query the sessions table). */
  /** Sessions whose recording can be complete (see recordingEnded) that ended in [from, to), oldest first, a page at a time. */
  recordingEndedBetween(from: Date, to: Date, limit: number, after?: EndedSession): Promise<EndedSession[]> {
    return this.sessions.findRecordingEndedBetween(from, to, limit, after);
  }

  /**
   * Locks the session row FOR NO KEY UPDATE until `em`'s transaction ends, for a writer
   * of media rows that must not race what deletes the session's media (a composed
   * recording: RecordingMediaService.commitComposed). Every transaction that deletes a
   * session's media locks this row first and holds it until its rows are gone: an erasure
   * (FOR SHARE), a retention purge batch and a deletion (FOR NO KEY UPDATE); this mode
   * conflicts with all three, while media inserts (their foreign key's KEY SHARE) pass.
   * False when the session is gone.
   */
  async lockForMediaWrite(id: string, em: EntityManager): Promise<boolean> {
    return (await this.sessions.findByIdForNoKeyUpdate(id, em)) !== null;
  }

  existingIds(ids: string[], owner?: string | null): Promise<Set<string>> {
    return this.sessions.existingIds(ids, owner);
  }
}
