import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { UnrecoverableError } from 'bullmq';
import Redis from 'ioredis';
import { DataSource, EntityManager } from 'typeorm';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';
import type { MediaBatchPayload, MediaItem, StreamMediaItems, VideoSegmentInfo } from '../../../jobs/job-payloads';
import { AppEventsService, AppEventType } from '../../app-events';
import { DeletionActor, DeletionLogService, DeletionReason } from '../../deletion-log';
import { SessionNotFoundError, SessionRetentionService, SessionsService, StreamsService } from '../../sessions';
import type { RetentionCategory } from '../../sessions';
import { ArtifactRow, MediaArtifactsRepository, StreamObject } from '../repositories/media-artifacts.repository';
import { AudioSegmentsRepository } from '../repositories/audio-segments.repository';
import { RecordingCompletionsRepository } from '../repositories/recording-completions.repository';
import { TranscriptRow, TranscriptSegmentsRepository } from '../repositories/transcript-segments.repository';
import { ArtifactKind, buildMediaKey, sessionPrefix } from '../storage/media-key';
import { DeletedObjects, MEDIA_STORAGE, MediaStorage } from '../storage/media-storage';
import { StorageHealth } from '../storage/storage-health.service';
import { isStorageUnavailable, KindCounts, storageErrorSummary, StorageUnavailableError } from '../storage/storage-errors';
import { ErasedParticipants } from '../erasure/erased-participants';
import { isMediaTimestamp } from '../protocol/rtms-message-parser';
import { dbText } from './db-text';
import { itemKind, MediaLossRecorder } from './media-loss';

const MSG_VIDEO = 15;
const MSG_SHARE = 16;

/** Frame container from its first bytes: JPEG/PNG as received, anything else H.264 Annex-B. */
export function frameFormat(data: Buffer): { ext: string; contentType: string } {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return { ext: 'jpg', contentType: 'image/jpeg' };
  if (data.length >= 8 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return { ext: 'png', contentType: 'image/png' };
  return { ext: 'h264', contentType: 'video/h264' };
}

/**
 * The batch restricted to the given items (a batch's remainder to retry, or its lost
 * part). Every stream stays, if only with no items: the batch's recording holds are
 * released by its sessions.
 */
function subBatch(p: MediaBatchPayload, items: Map<StreamMediaItems, MediaItem[]>): MediaBatchPayload {
  return { ...p, streams: p.streams.map((s) => ({ ...s, items: items.get(s) ?? [] })) };
}

/**
 * The objects of deleted rows that the listing did not delete: rows committed since, and
 * rows rewritten since (a re-save rewrites its object first, possibly after the listing's
 * delete of it), told apart by their row version.
 */
function missedByListing(listed: StreamObject[], deletedRows: StreamObject[]): StreamObject[] {
  const version = (o: StreamObject) => `${o.rowVersion}|${o.storageKey}`;
  const seen = new Set(listed.map(version));
  return deletedRows.filter((o) => !seen.has(version(o)));
}

/** One entry per key, the last one given winning (a rewritten object counts once, at its latest size). */
function uniqueByKey(objects: StreamObject[]): StreamObject[] {
  return [...new Map(objects.map((o) => [o.storageKey, o])).values()];
}

/** The retention category of a saver's item (docs/retention.md): frames and segments are media, transcript lines and chat the transcript. */
function retentionCategoryOf(msgType: number): RetentionCategory {
  return msgType === MSG_VIDEO || msgType === MSG_SHARE ? 'media' : 'transcript';
}

const sha8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

/**
 * A media timestamp as the time its row records. The parser refuses timestamps out of
 * range; an item queued or spilled before that check could still carry one, and its
 * Invalid Date would fail the statement recording the whole batch. Thrown per item
 * (before its object is written), so that item alone is recorded as lost (`rejected`).
 */
function capturedAt(ts: number): Date {
  if (!isMediaTimestamp(ts)) throw new RangeError(`timestamp ${ts} is not a media timestamp`);
  return new Date(ts);
}

/**
 * The savers of the media-frames queue. Every save is idempotent: storage keys are
 * deterministic and rows have unique natural keys, so a retried or re-run job rewrites
 * the same objects and inserts nothing twice. Objects are written before their rows; a
 * row therefore always points at a complete object.
 */
@Injectable()
export class MediaSaverService {
  private readonly logger = new Logger(MediaSaverService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(MEDIA_STORAGE) private readonly storage: MediaStorage,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly config: ConfigService<AppConfig, true>,
    private readonly metrics: MetricsService,
    private readonly sessions: SessionsService,
    private readonly streams: StreamsService,
    private readonly appEvents: AppEventsService,
    private readonly artifacts: MediaArtifactsRepository,
    private readonly transcripts: TranscriptSegmentsRepository,
    private readonly audioSegments: AudioSegmentsRepository,
    private readonly loss: MediaLossRecorder,
    private readonly storageHealth: StorageHealth,
    private readonly completions: RecordingCompletionsRepository,
    private readonly deletionLog: DeletionLogService,
    private readonly erased: ErasedParticipants,
    private readonly retention: SessionRetentionService,
  ) {}

  private revokedKey(rtmsStreamId: string): string {
    return `${this.config.get('queues', { infer: true }).prefix}:media-revoked:${rtmsStreamId}`;
  }

  private observe(kind: string, entries: Array<{ item: MediaItem }>): void {
    const now = Date.now();
    this.metrics.counter({ name: 'rtms_hub_media_saved_total', help: 'Media items saved', labelNames: ['kind'] }).inc({ kind }, entries.length);
    const h = this.metrics.histogram({ name: 'rtms_hub_media_save_latency_seconds', help: 'Receive-to-storage latency', labelNames: ['kind'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
    for (const { item } of entries) h.observe({ kind }, Math.max(0, now - item.receivedAt) / 1000);
  }

  /**
   * The items of the batch that may still be written: not of a revoked stream (stop reason
   * 8), nor of a participant erased from the session after the item was received (a batch
   * that waited for storage, or in a spill, and lands after the erasure: ErasedParticipants),
   * nor of a category retention already purged from the session (the purge is not run again).
   */
  private async liveEntries(p: MediaBatchPayload): Promise<Array<{ stream: StreamMediaItems; item: MediaItem }>> {
    if (p.streams.length === 0) return [];
    // The reads at once: one wait per batch, not three.
    const [revoked, erased, purged] = await Promise.all([
      this.redis.mget(...p.streams.map((s) => this.revokedKey(s.rtmsStreamId))),
      this.erased.of(p.streams.map((s) => s.sessionId)),
      this.retention.purgedOf(p.streams.map((s) => s.sessionId)),
    ]);
    const streams = p.streams.filter((_, i) => revoked[i] === null);
    const entries: Array<{ stream: StreamMediaItems; item: MediaItem }> = [];
    let refused = 0;
    let expired = 0;
    for (const stream of streams) {
      const users = erased.get(stream.sessionId);
      const purgedCategories = purged.get(stream.sessionId);
      for (const item of stream.items) {
        const erasedAt = users?.get(String(item.userId));
        if (erasedAt !== undefined && item.receivedAt <= erasedAt) refused++;
        else if (purgedCategories?.has(retentionCategoryOf(item.msgType))) expired++;
        else entries.push({ stream, item });
      }
    }
    if (expired > 0) {
      this.metrics.counter({ name: 'rtms_hub_media_purged_refused_total', help: 'Media items not saved: retention had already purged their category from the session' }).inc(expired);
      this.logger.log(`${expired} media item(s) not saved: retention already purged their category from the session`);
    }
    if (refused > 0) {
      this.metrics.counter({ name: 'rtms_hub_media_erased_refused_total', help: 'Media items not saved: their participant was erased after they were received' }).inc(refused);
      this.logger.log(`${refused} media item(s) of erased participant(s) not saved (received before their erasure, saved after it)`);
    }
    return entries;
  }

  async saveFrames(p: MediaBatchPayload): Promise<number> {
    return this.writeEach(p, 'frame', async ({ stream, item }) => {
      if (item.msgType !== MSG_VIDEO && item.msgType !== MSG_SHARE) throw new UnrecoverableError(`frame.save got msgType ${item.msgType}`);
      const data = Buffer.from(item.data, 'base64');
      if (data.length === 0) return null;
      if (item.segment) return this.writeSegment(stream, item, item.segment, data);
      const kind: ArtifactKind = item.msgType === MSG_SHARE ? 'share_frame' : 'video_frame';
      const row = this.base(stream, item, kind);
      const fmt = frameFormat(data);
      const key = buildMediaKey({ sessionId: stream.sessionId, kind, userName: item.userName, userId: item.userId, name: item.timestamp, ext: fmt.ext });
      const put = await this.storage.put(key, data, fmt.contentType);
      return { ...row, storageKey: key, contentType: fmt.contentType, bytes: put.bytes, sha256: put.sha256, durationMs: null, meta: {} };
    });
  }

  /**
   * One H.264 segment (video/h264-segmenter.ts): its Annex-B bytes as one object, keyed by
   * session, kind, participant and first frame's Zoom timestamp, so a retried or duplicated
   * save rewrites the same object. Whoever wrote a key first keeps it: a segment starting at
   * the same frame but holding other bytes (two owners of one stream, which the lease
   * fencing rules out) is refused, counted and logged rather than overwrite it.
   */
  private async writeSegment(stream: StreamMediaItems, item: MediaItem, seg: VideoSegmentInfo, data: Buffer): Promise<ArtifactRow | null> {
    const kind: ArtifactKind = item.msgType === MSG_SHARE ? 'share_segment' : 'video_segment';
    const row = { ...this.base(stream, item, kind), capturedAt: capturedAt(seg.firstTs) };
    const key = buildMediaKey({ sessionId: stream.sessionId, kind, userName: item.userName, userId: item.userId, name: seg.firstTs, ext: 'h264' });
    const sha256 = createHash('sha256').update(data).digest('hex');
    const existing = await this.artifacts.findByStorageKey(key);
    if (existing && existing.sha256 !== sha256) {
      this.metrics.counter({ name: 'rtms_hub_video_segment_conflicts_total', help: 'H.264 segments refused: their key already holds other bytes', labelNames: ['kind'] }).inc({ kind });
      this.logger.error(`Segment ${key} already stored with other bytes (${existing.bytes} bytes, sha256 ${existing.sha256.slice(0, 12)}…); the new one (${data.length} bytes) is not written`);
      return null;
    }
    const put = existing ? { bytes: existing.bytes, sha256 } : await this.storage.put(key, data, 'video/h264');
    return {
      ...row,
      storageKey: key,
      contentType: 'video/h264',
      bytes: put.bytes,
      sha256: put.sha256,
      durationMs: seg.durationMs,
      meta: { codec: 'h264', frames: seg.frames, first_ts: seg.firstTs, last_ts: seg.lastTs, frame_ts: seg.frameTs, ...(seg.width && seg.height ? { width: seg.width, height: seg.height } : {}) },
    };
  }

  async saveChat(p: MediaBatchPayload): Promise<number> {
    return this.writeEach(p, 'chat', async ({ stream, item }) => {
      const row = this.base(stream, item, 'chat');
      const doc = { timestamp: item.timestamp, user_id: item.userId, user_name: item.userName ?? null, text: item.data, ...(item.meta ?? {}) };
      const body = Buffer.from(JSON.stringify(doc, null, 2));
      const idPart = typeof item.meta?.message_id === 'string' ? item.meta.message_id : sha8(item.data);
      const key = buildMediaKey({ sessionId: stream.sessionId, kind: 'chat', userName: item.userName, userId: item.userId, name: `${item.timestamp}_${idPart}`, ext: 'json' });
      const put = await this.storage.put(key, body, 'application/json');
      return { ...row, storageKey: key, contentType: 'application/json', bytes: put.bytes, sha256: put.sha256, durationMs: null, meta: { text: dbText(item.data, 4000) } };
    });
  }

  /**
   * Writes every item of a batch to storage in parallel (a batch holds the media of every
   * stream of the process) and settles them one by one: the rows of what was written are
   * recorded; an item storage refuses for a reason of its own is recorded as lost and does
   * not hold the others back; if storage is unavailable, StorageUnavailableError carries
   * the batch cut down to the items not written, for the processor to retry.
   */
  private async writeEach(p: MediaBatchPayload, metric: string, write: (e: { stream: StreamMediaItems; item: MediaItem }) => Promise<ArtifactRow | null>): Promise<number> {
    const entries = await this.liveEntries(p);
    const results = await Promise.allSettled(entries.map(write));
    const rows: ArtifactRow[] = [];
    const written: Array<{ item: MediaItem }> = [];
    const unsaved: KindCounts = {};
    const waiting = new Map<StreamMediaItems, MediaItem[]>();
    const refused = new Map<StreamMediaItems, MediaItem[]>();
    let unavailable: unknown;
    let refusal: unknown;
    results.forEach((r, i) => {
      const { stream, item } = entries[i];
      if (r.status === 'fulfilled') {
        if (r.value) rows.push(r.value);
        written.push(entries[i]);
      } else if (isStorageUnavailable(r.reason)) {
        unavailable ??= r.reason;
        const kind = itemKind(item.msgType, item.segment);
        unsaved[kind] = (unsaved[kind] ?? 0) + 1;
        waiting.set(stream, [...(waiting.get(stream) ?? []), item]);
      } else {
        refusal ??= r.reason;
        refused.set(stream, [...(refused.get(stream) ?? []), item]);
      }
    });
    const saved = await this.insertArtifacts(rows);
    this.observe(metric, written);
    if (refused.size > 0) await this.loss.record('rejected', subBatch(p, refused), { error: storageErrorSummary(refusal) });
    if (unavailable !== undefined) {
      this.storageHealth.noteUnavailable(unavailable);
      throw new StorageUnavailableError(unsaved, unavailable, subBatch(p, waiting));
    }
    if (rows.length > 0) this.storageHealth.noteWritten();
    return saved;
  }

  async saveTranscripts(p: MediaBatchPayload): Promise<number> {
    const entries = await this.liveEntries(p);
    const existing = await this.sessions.existingIds(entries.map((e) => e.stream.sessionId));
    const live = entries.filter((e) => existing.has(e.stream.sessionId));
    // One line with a timestamp Postgres cannot take would fail the insert of them all: it alone is lost (see capturedAt).
    const kept = live.filter((e) => isMediaTimestamp(e.item.timestamp));
    if (kept.length < live.length) {
      const undated = new Map<StreamMediaItems, MediaItem[]>();
      for (const e of live) if (!isMediaTimestamp(e.item.timestamp)) undated.set(e.stream, [...(undated.get(e.stream) ?? []), e.item]);
      await this.loss.record('rejected', subBatch(p, undated), { error: 'timestamp is not a media timestamp' });
    }
    if (kept.length === 0) return 0;
    const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : d);
    // start_time / end_time: the line's own timestamp when they are not media timestamps.
    const ms = (v: unknown, d: number) => {
      const n = num(v, d);
      return isMediaTimestamp(n) ? n : d;
    };
    const rows: TranscriptRow[] = kept.map(({ stream, item }) => ({
      sessionId: stream.sessionId,
      rtmsStreamId: stream.rtmsStreamId,
      userId: String(item.userId),
      userName: dbText(item.userName),
      text: dbText(item.data, 100_000)!, // (data is a string: never null)
      startMs: ms(item.meta?.start_time, item.timestamp),
      endMs: ms(item.meta?.end_time, item.timestamp),
      timestampMs: item.timestamp,
      language: item.meta?.language === undefined ? null : num(item.meta.language, 0),
      attribute: item.meta?.attribute === undefined ? null : num(item.meta.attribute, 0),
    }));
    // A session deleted between the check and the insert fails the statement (FK); the retry leaves it out.
    // Each line new to the table is announced (transcript.segment) in the same transaction;
    // a re-saved line inserts nothing, so it is not announced twice.
    const saved = await this.db.transaction(async (em) => {
      const inserted = await this.transcripts.insertNew(rows, em);
      await this.appEvents.recordMany(
        inserted.map((r) => ({
          type: AppEventType.TranscriptSegment,
          sessionId: r.sessionId,
          data: { rtms_stream_id: r.rtmsStreamId, user_id: r.userId, user_name: r.userName, text: r.text, start_ms: r.startMs, end_ms: r.endMs, language: r.language },
        })),
        em,
      );
      return inserted.length;
    });
    this.observe('transcript', kept);
    return saved;
  }

  /**
   * Stop reason 8: deletes every stored object and row of the stream and refuses its later
   * media. Recorded in the deletion log (stream_revoked, by Zoom) with the rows' deletion,
   * which also announces media.deleted: always on the first pass, on the follow-up pass
   * only when it deleted something.
   */
  async purgeStream(rtmsStreamId: string, pass = 1): Promise<number> {
    await this.redis.set(this.revokedKey(rtmsStreamId), '1', 'EX', 7 * 24 * 3600);
    // Stream objects have no prefix of their own (keys are per session and kind), so they
    // go one by one, listed from their rows; their bytes are the rows' (put's own count).
    const listed = await this.artifacts.objectsForStream(rtmsStreamId);
    await this.deleteObjects(listed);
    const sessionId = (await this.streams.findByStreamId(rtmsStreamId))?.sessionId ?? null;
    const owner = sessionId ? await this.sessionOwner(sessionId) : null;
    const objects = await this.db.transaction(async (em) => {
      const audio = await this.audioSegments.deleteForStream(rtmsStreamId, em);
      const rows = await this.artifacts.deleteForStream(rtmsStreamId, em);
      // A save that checked the revoked key before it was set may have committed rows (and
      // written their objects) since the listing; their objects go before the rows' deletion
      // commits, or a failure rolls it back and the job's retry lists them.
      const missed = missedByListing(listed, rows);
      await this.deleteObjects(missed);
      const deleted = uniqueByKey([...listed, ...missed]);
      const rowsDeleted: Record<string, number> = {
        media_artifacts: rows.length,
        transcript_segments: await this.transcripts.deleteForStream(rtmsStreamId, em),
        ...audio,
      };
      const deletedAnything = deleted.length > 0 || Object.values(rowsDeleted).some((n) => n > 0);
      if (pass === 1 || deletedAnything) {
        await this.deletionLog.record(
          {
            reason: DeletionReason.StreamRevoked,
            actor: DeletionActor.Zoom,
            sessionId,
            rtmsStreamId,
            owner,
            categories: ['media', 'transcript', 'chat'],
            objectsDeleted: deleted.length,
            bytesDeleted: deleted.reduce((sum, o) => sum + o.bytes, 0),
            rowsDeleted,
            details: { pass },
          },
          em,
        );
      }
      return deleted;
    });
    this.logger.log(`Purged stored media of revoked stream ${rtmsStreamId} (pass ${pass}): ${objects.length} object(s)`);
    return objects.length;
  }

  private async deleteObjects(objects: StreamObject[]): Promise<void> {
    for (const o of objects) await this.storage.delete(o.storageKey);
  }

  /** The session's owner tag; null when it has none or is gone (deleted meanwhile). */
  private async sessionOwner(sessionId: string): Promise<string | null> {
    try {
      return (await this.sessions.get(sessionId)).owner;
    } catch (err) {
      if (err instanceof SessionNotFoundError) return null;
      throw err;
    }
  }

  /** Deletes every stored object of a session (its rows go with the session row): how many, and their bytes. */
  async purgeSessionObjects(sessionId: string): Promise<DeletedObjects> {
    const deleted = await this.storage.deletePrefix(sessionPrefix(sessionId));
    if (deleted.objects > 0) this.logger.log(`Deleted ${deleted.objects} stored object(s) (${deleted.bytes} bytes) of session ${sessionId}`);
    return deleted;
  }

  /** The media rows a session's deletion cascades to, per table (counted in the deleting transaction). */
  async countSessionRows(sessionId: string, em: EntityManager): Promise<Record<string, number>> {
    return {
      media_artifacts: await this.artifacts.countForSession(sessionId, em),
      transcript_segments: await this.transcripts.countForSession(sessionId, em),
      ...(await this.audioSegments.countForSession(sessionId, em)),
      recording_completions: (await this.completions.exists(sessionId, em)) ? 1 : 0,
    };
  }

  /** The row's common fields; throws (the item alone is refused) when its timestamp is not a media timestamp. */
  private base(stream: StreamMediaItems, item: MediaItem, kind: ArtifactKind) {
    return { sessionId: stream.sessionId, rtmsStreamId: stream.rtmsStreamId, kind, userId: String(item.userId), userName: dbText(item.userName), capturedAt: capturedAt(item.timestamp) };
  }

  /**
   * Records the rows of objects already written. Objects of sessions deleted meanwhile are
   * taken back (their rows would have nowhere to go). A session deleted between the check
   * and the insert fails the statement; the job's retry then leaves it out.
   */
  private async insertArtifacts(rows: ArtifactRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const existing = await this.sessions.existingIds(rows.map((r) => r.sessionId));
    const orphans = rows.filter((r) => !existing.has(r.sessionId));
    if (orphans.length > 0) await Promise.all(orphans.map((r) => this.storage.delete(r.storageKey).catch(() => undefined)));
    const kept = rows.filter((r) => existing.has(r.sessionId));
    if (kept.length === 0) return 0;
    return (await this.upsertArtifacts(this.db.manager, kept)).size;
  }

  /**
   * Inserts or updates artifact rows by storage key (objects already written); returns
   * their ids by storage key. The segment writer records its WAVs through it too, in its
   * own transaction.
   */
  upsertArtifacts(em: EntityManager, rows: ArtifactRow[]): Promise<Map<string, string>> {
    return this.artifacts.upsertMany(rows, em);
  }
}
