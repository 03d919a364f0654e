import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { UnrecoverableError } from 'bullmq';
import { DataSource } from 'typeorm';
import { TokenCipher } from '../../../common/crypto/token-cipher';
import { errorMessage } from '../../../common/errors/error-message';
import { keysetToPage } from '../../../common/http/keyset-page';
import type { PageQuery } from '../../../common/http/page.query';
import { decodeCursor } from '../../../common/http/pagination';
import { StreamSignalPublisher } from '../../../common/stream-signals/stream-signal-publisher';
import { AppConfig } from '../../../config/app.config';
import { JobName } from '../../../jobs/job-names';
import { JobProducer } from '../../../jobs/job-producer.service';
import { DeletionActor, DeletionLogService, DeletionReason } from '../../deletion-log';
import { ParticipantMediaService, RecordingMediaService } from '../../media-ingest';
import type { ParticipantRowsDeleted } from '../../media-ingest';
import { ParticipantDirectory, StreamsService, StreamStatus } from '../../sessions';
import type { ApiCaller } from '../../../common/auth/api-caller';
import { ErasureCounts, ErasureEntity } from './entities/erasure.entity';
import { ErasureNotFoundError, ErasureQueueUnavailableError } from './erasure.errors';
import { ErasureSubject, subjectAad, subjectHash, userIdsBySession } from './erasure-subject';
import { erasureView, ErasureView } from './erasure.views';
import { ErasuresRepository } from './erasures.repository';
import { SessionOutboxPurge } from '../outbox/session-outbox-purge';

/** Unlinked events deleted per transaction. */
const UNLINKED_BATCH = 500;

/** Streams that may still be spooling audio on a worker. */
const LIVE_STREAM_STATUSES = new Set<StreamStatus>([StreamStatus.Pending, StreamStatus.Connecting, StreamStatus.Active, StreamStatus.Interrupted, StreamStatus.Paused]);

/** The outcome of one pass over the subject's sessions. */
interface PassResult {
  matched: number;
  /** Live streams told to drop the subject's spooled audio. */
  signalled: number;
  /** The (session → user ids) the pass matched: the next pass erases them again. */
  bySession: Map<string, string[]>;
}

/**
 * Erasure of one person's data across sessions (docs/retention.md "Erasure"): the API
 * side (request, progress) and the `erasure.run` job. Per session, in one transaction:
 * lock the session (a legal hold wins) and the person's audio segments, delete the
 * stored objects, then the rows, record the deletion log row and add to the report. A
 * second pass after the spool has settled deletes what was in flight during the first.
 */
@Injectable()
export class ErasureService {
  private readonly logger = new Logger(ErasureService.name);
  /** How long the second pass waits for audio and media that were in flight when the first ran. */
  private readonly settleMs: number;

  constructor(
    private readonly erasures: ErasuresRepository,
    private readonly participants: ParticipantDirectory,
    private readonly streams: StreamsService,
    private readonly media: ParticipantMediaService,
    private readonly recordings: RecordingMediaService,
    private readonly deletionLog: DeletionLogService,
    private readonly signals: StreamSignalPublisher,
    private readonly producer: JobProducer,
    private readonly cipher: TokenCipher,
    @InjectDataSource() private readonly db: DataSource,
    config: ConfigService<AppConfig, true>,
    private readonly outbox: SessionOutboxPurge,
  ) {
    const ingest = config.get('rtms', { infer: true }).ingest;
    this.settleMs = 2 * Math.max(ingest.audioFlushMs, ingest.batchFlushMs) + 1500;
  }

  // ───────────── API ─────────────

  /** Records the request and queues its job (202). The subject is stored only sealed and hashed. */
  async request(subject: ErasureSubject, caller: ApiCaller): Promise<ErasureView> {
    const id = randomUUID();
    const row = await this.erasures.insert({
      id,
      subjectKind: subject.kind,
      subjectHash: subjectHash(subject),
      subjectSealed: this.cipher.encrypt(subject.value, subjectAad(id)),
      requestedBy: caller.fingerprint,
      owner: caller.owner,
    });
    try {
      await this.producer.enqueue(JobName.ErasureRun, { erasureId: id });
    } catch (err) {
      this.logger.error(`Could not queue erasure ${id}: ${errorMessage(err)}`);
      await this.erasures.finish(id, 'failed', `could not queue the erasure job: ${errorMessage(err)}`);
      throw new ErasureQueueUnavailableError();
    }
    this.logger.log(`Erasure ${id} requested by key ${caller.fingerprint} (${subject.kind})`);
    return erasureView(row);
  }

  async get(id: string, owner: string | null): Promise<ErasureView> {
    const row = await this.erasures.findOne(id, owner);
    if (!row) throw new ErasureNotFoundError(id);
    return erasureView(row);
  }

  async list(query: PageQuery, owner: string | null) {
    const limit = query.limit ?? 20;
    return keysetToPage(await this.erasures.findPage(owner, limit, decodeCursor(query.cursor)), limit, erasureView);
  }

  // ───────────── the job ─────────────

  /**
   * Carries out (or continues) an erasure. Idempotent: sessions already erased have no
   * rows of the person left, and the report was added to in the same transactions. A row
   * already `running` is taken again: a retry, or ErasureSweeper's re-run of an erasure
   * whose job was lost or whose final failure could not be recorded.
   */
  async run(erasureId: string): Promise<Record<string, unknown>> {
    const row = await this.erasures.findOne(erasureId);
    if (!row) throw new UnrecoverableError(`Erasure ${erasureId} does not exist`);
    if (row.status === 'completed' || row.status === 'failed') return { erasureId, status: row.status };
    if (!row.subjectSealed) throw new UnrecoverableError(`Erasure ${erasureId} has no subject left to erase`);
    const subject: ErasureSubject = { kind: row.subjectKind, value: this.cipher.decrypt(row.subjectSealed, subjectAad(erasureId)) };
    if (!(await this.erasures.markRunning(erasureId))) return { erasureId, status: 'gone' };

    const first = await this.pass(row, subject);
    // Audio of the person still spooling, media batches and a WAV being written when the
    // first pass ran land within a few flushes: a second pass deletes them. It erases the
    // first pass's (session, user id) pairs again as well as what it matches itself: an
    // email is known only from the participant rows the first pass deleted.
    if (first.signalled > 0) await new Promise((r) => setTimeout(r, this.settleMs));
    const second = await this.pass(row, subject, first.bySession);
    if (first.matched + second.matched === 0 && !foundByEarlierRun(row)) await this.erasures.markUnresolved(erasureId);
    await this.erasures.finish(erasureId, 'completed');
    const done = (await this.erasures.findOne(erasureId))!;
    this.logger.log(`Erasure ${erasureId} completed: ${done.sessionsAffected.length} session(s), ${done.sessionsHeld.length} held, ${done.mixedAudioSessions.length} with mixed audio`);
    return { erasureId, sessions: done.sessionsAffected.length, held: done.sessionsHeld.length };
  }

  /** The job failed for good: the erasure is failed and its sealed subject cleared. */
  async markFailed(erasureId: string, error: string): Promise<void> {
    await this.erasures.finish(erasureId, 'failed', error.slice(0, 2000));
  }

  /** One pass: find the person's (session, user id) pairs (plus `earlier` ones) and erase each session. */
  private async pass(row: ErasureEntity, subject: ErasureSubject, earlier = new Map<string, string[]>()): Promise<PassResult> {
    const earlierPairs = [...earlier].flatMap(([sessionId, userIds]) => userIds.map((userId) => ({ sessionId, userId })));
    const bySession = userIdsBySession([...(await this.match(subject)), ...earlierPairs]);
    const facts = new Map((await this.participants.sessionFacts([...bySession.keys()])).map((f) => [f.id, f]));
    let matched = 0;
    let signalled = 0;
    for (const [sessionId, userIds] of bySession) {
      const f = facts.get(sessionId);
      // Another owner's session (owner-scoped key), or deleted meanwhile.
      if (!f || (row.owner !== null && f.owner !== row.owner)) continue;
      matched += 1;
      if (f.legalHoldAt) {
        await this.erasures.addHeld(row.id, sessionId);
        continue;
      }
      const erased = await this.eraseSession(row, subject, sessionId, userIds);
      if (erased === 'gone') continue;
      signalled += erased.signalled;
      if (await this.media.hasMixedAudio(sessionId)) await this.erasures.addMixedAudio(row.id, sessionId);
    }
    // Zoom events no session claimed belong to no owner: only an unscoped key's erasure reaches them.
    if (row.owner === null && (await this.eraseUnlinked(row, subject)) > 0) matched += 1;
    return { matched, signalled, bySession };
  }

  /**
   * Zoom events linked to no session (a participant_joined of a meeting without one, an
   * app_deauthorized…) whose payload carries the person's user id, email or name:
   * deleted in batches, each with its deletion_log entry (no session) and its count in
   * the report, in one transaction. Returns how many.
   */
  private async eraseUnlinked(row: ErasureEntity, subject: ErasureSubject): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.db.transaction(async (em) => {
        const deleted = await this.participants.deleteUnlinkedEventsOf(subject, UNLINKED_BATCH, em);
        if (deleted === 0) return 0;
        await this.deletionLog.record(
          {
            reason: DeletionReason.Erasure,
            sessionId: null,
            erasureId: row.id,
            categories: ['events'],
            objectsDeleted: 0,
            bytesDeleted: 0,
            rowsDeleted: { session_events: deleted },
            apiKeyFingerprint: row.requestedBy,
            actor: row.requestedBy ? DeletionActor.ApiKey : DeletionActor.System,
            owner: null,
            details: { subject_kind: subject.kind, subject_hash: row.subjectHash, unlinked_events: deleted },
          },
          em,
        );
        await this.erasures.addProgress(row.id, null, { counts: { unlinked_events: deleted }, bytes: 0, spoolSegmentsDropped: 0 }, em);
        return deleted;
      });
      total += n;
      if (n < UNLINKED_BATCH) return total;
    }
  }

  private async match(subject: ErasureSubject) {
    switch (subject.kind) {
      case 'zoom_user_id':
        return [...(await this.participants.byUserId(subject.value)), ...(await this.media.sessionsOfUserId(subject.value))];
      case 'user_name':
        return [...(await this.participants.byUserName(subject.value)), ...(await this.media.sessionsOfUserName(subject.value))];
      case 'user_email':
        // RTMS carries no email: only participants whose email Zoom's participant_joined webhook gave.
        return this.participants.byEmail(subject.value);
    }
  }

  /** Tells the workers holding the session's live streams to drop the users' spooled audio. */
  private async signalStreams(sessionId: string, userIds: string[]): Promise<number> {
    const live = (await this.streams.listForSession(sessionId)).filter((s) => LIVE_STREAM_STATUSES.has(s.status));
    for (const s of live) await this.signals.publish({ type: 'erase_users', rtmsStreamId: s.rtmsStreamId, userIds });
    return live.length;
  }

  /**
   * Erases the users' data in one session, under its share lock; 'gone' when the session
   * was deleted meanwhile or is held (reported as held). The live streams are told to drop
   * the users' spooled audio only here, once the hold is checked under the lock: a hold
   * placed after the match stops the erasure before anything of the session is touched.
   */
  private async eraseSession(row: ErasureEntity, subject: ErasureSubject, sessionId: string, userIds: string[]): Promise<'gone' | { signalled: number }> {
    return this.db.transaction(async (em) => {
      const facts = await this.participants.lockSessionFacts(sessionId, em);
      if (!facts) return 'gone';
      if (facts.legalHoldAt) {
        // Held between the match and the lock: the hold wins.
        await this.erasures.addHeld(row.id, sessionId, em);
        return 'gone';
      }
      const signalled = await this.signalStreams(sessionId, userIds);
      // A media batch of theirs received before now that lands later (waiting for storage, or
      // in a worker's spill) is refused by the savers, after both passes.
      await this.media.markErased(sessionId, userIds);
      // Storage first: a crash after this leaves rows whose objects are gone, which the
      // job's retry deletes; the other order could leave objects no row points at. The
      // bulk goes before the person's audio segments are locked: a lock held that long
      // would stall the spool flushes (one statement for every stream of a worker).
      const first = await this.media.userObjects(sessionId, userIds, em);
      await this.media.deleteObjects(first);
      const segments = await this.media.lockUserSegments(sessionId, userIds, em);
      // A WAV finished (or a frame saved) meanwhile: its object goes too, under the lock.
      const objects = await this.media.userObjects(sessionId, userIds, em);
      const deleted = new Set(first.map((o) => o.storageKey));
      await this.media.deleteObjects(objects.filter((o) => !deleted.has(o.storageKey)));
      // The now empty participant folders carry the person's name (local storage); objects
      // left in them without a row (a save killed between its write and its insert) go too.
      const leftovers = await this.media.deleteUserFolders(sessionId, userIds, objects, em);
      const rows = await this.media.deleteUserRows(sessionId, userIds, em);
      // The composed recording shows and plays everyone: it goes with the person (docs/retention.md);
      // POST /sessions/:id/recording composes it again from what is left.
      // A composition running meanwhile does not bring it back: it writes its rows under a
      // session row lock that conflicts with this transaction's share lock, and only if the
      // sources it read (these rows among them) are still there (media-ingest composed-commit.ts).
      const recording = await this.recordings.deleteComposed(sessionId, em, ['recording']);
      const participantRows = await this.participants.deleteParticipants(sessionId, userIds, em);
      // What the session's timeline and app-event outbox hold about them: their
      // participant_joined (name, email), the stream's joins, speaker and sharing events
      // naming them, their transcript lines and joins as sent to apps.
      const timeline = await this.participants.eraseEventsOfUsers(sessionId, userIds, subject.kind === 'user_name' ? subject.value : null, em);
      const outbox = await this.outbox.deleteOfUsers(sessionId, userIds, em);
      const objectsDeleted = objects.length + leftovers.objects + recording.objects;
      const counts: ErasureCounts = {
        video_frames: rows.video_frames,
        share_frames: rows.share_frames,
        ...(rows.video_segments + rows.share_segments > 0 ? { video_segments: rows.video_segments, share_segments: rows.share_segments } : {}),
        audio_segments: rows.audio_segments,
        chat_messages: rows.chat_messages,
        transcript_segments: rows.transcript_segments,
        participants: participantRows,
        objects: objectsDeleted,
        ...(recording.objects > 0 ? { recordings: recording.objects } : {}),
        ...(timeline.zoomEvents > 0 ? { zoom_events: timeline.zoomEvents } : {}),
        ...(timeline.workerEvents > 0 ? { worker_events: timeline.workerEvents } : {}),
        ...(timeline.redacted > 0 ? { events_redacted: timeline.redacted } : {}),
        ...(outbox.appEvents > 0 ? { app_events: outbox.appEvents } : {}),
        ...(outbox.webhookMessages > 0 ? { webhook_messages: outbox.webhookMessages } : {}),
      };
      const artifacts = rows.video_frames + rows.share_frames + rows.video_segments + rows.share_segments + rows.audio_segments + rows.chat_messages + recording.objects;
      const sessionEvents = timeline.zoomEvents + timeline.workerEvents;
      const eventRows = sessionEvents + timeline.redacted + outbox.appEvents + outbox.webhookMessages;
      if (artifacts + rows.transcript_segments + rows.spool_segments + participantRows + objectsDeleted + eventRows === 0) return { signalled };
      const bytes = objects.reduce((n, o) => n + o.bytes, 0) + leftovers.bytes + recording.bytes;
      await this.deletionLog.record(
        {
          reason: DeletionReason.Erasure,
          sessionId,
          erasureId: row.id,
          categories: [...new Set([...categoriesOf(rows, participantRows), ...(recording.objects + leftovers.objects > 0 ? ['media'] : []), ...(eventRows > 0 ? ['events'] : [])])],
          objectsDeleted,
          bytesDeleted: bytes,
          rowsDeleted: {
            media_artifacts: artifacts,
            transcript_segments: rows.transcript_segments,
            audio_segments: rows.spool_segments,
            participants: participantRows,
            ...(eventRows > 0 ? { session_events: sessionEvents, app_events: outbox.appEvents, webhook_messages: outbox.webhookMessages } : {}),
          },
          apiKeyFingerprint: row.requestedBy,
          actor: row.requestedBy ? DeletionActor.ApiKey : DeletionActor.System,
          owner: facts.owner,
          details: {
            subject_kind: subject.kind,
            subject_hash: row.subjectHash,
            spool_segments_dropped: segments.open,
            ...(leftovers.objects > 0 ? { folder_objects_deleted: leftovers.objects } : {}),
            ...(timeline.redacted > 0 ? { session_events_redacted: timeline.redacted } : {}),
          },
        },
        em,
      );
      await this.erasures.addProgress(row.id, sessionId, { counts, bytes, spoolSegmentsDropped: segments.open }, em);
      return { signalled };
    });
  }
}

/**
 * Whether an earlier run of this erasure (its job retried after a pass had committed)
 * erased or held sessions of the person, or deleted unlinked events about them, as the
 * row read at the start of this run says:
 * this run's passes then match nothing, and the person was found all the same.
 */
function foundByEarlierRun(row: ErasureEntity): boolean {
  return row.sessionsAffected.length + row.sessionsHeld.length + (row.counts.unlinked_events ?? 0) > 0;
}

function categoriesOf(rows: ParticipantRowsDeleted, participants: number): string[] {
  const out: string[] = [];
  if (rows.video_frames + rows.share_frames + rows.video_segments + rows.share_segments + rows.audio_segments + rows.spool_segments > 0) out.push('media');
  if (rows.transcript_segments > 0) out.push('transcript');
  if (rows.chat_messages > 0) out.push('chat');
  if (participants > 0) out.push('participants');
  return out;
}
