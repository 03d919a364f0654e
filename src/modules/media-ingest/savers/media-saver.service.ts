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
import type { MediaBatchPayload, MediaItem, StreamMediaItems } from '../../../jobs/job-payloads';
import { AppEventsService, AppEventType } from '../../app-events';
import { SessionsService, StreamsService } from '../../sessions';
import { ArtifactRow, MediaArtifactsRepository } from '../repositories/media-artifacts.repository';
import { AudioSegmentsRepository } from '../repositories/audio-segments.repository';
import { TranscriptRow, TranscriptSegmentsRepository } from '../repositories/transcript-segments.repository';
import { ArtifactKind, buildMediaKey, sessionPrefix } from '../storage/media-key';
import { MEDIA_STORAGE, MediaStorage } from '../storage/media-storage';
import { dbText } from './db-text';
import { errorMessage } from '../../../common/errors/error-message';

const MSG_VIDEO = 15;
const MSG_SHARE = 16;

/** Frame container from its first bytes: JPEG/PNG as received, anything else H.264 Annex-B. */
export function frameFormat(data: Buffer): { ext: string; contentType: string } {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return { ext: 'jpg', contentType: 'image/jpeg' };
  if (data.length >= 8 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return { ext: 'png', contentType: 'image/png' };
  return { ext: 'h264', contentType: 'video/h264' };
}

function settledRows(results: Array<PromiseSettledResult<ArtifactRow | null>>): ArtifactRow[] {
  return results.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
}

const sha8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

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

  /** Streams of the batch whose media may still be written (not revoked: stop reason 8), with their items. */
  private async liveEntries(p: MediaBatchPayload): Promise<Array<{ stream: StreamMediaItems; item: MediaItem }>> {
    if (p.streams.length === 0) return [];
    const revoked = await this.redis.mget(...p.streams.map((s) => this.revokedKey(s.rtmsStreamId)));
    return p.streams.filter((_, i) => revoked[i] === null).flatMap((stream) => stream.items.map((item) => ({ stream, item })));
  }

  async saveFrames(p: MediaBatchPayload): Promise<number> {
    const entries = await this.liveEntries(p);
    // Settled one by one: an item that cannot be written must not cost the others their rows.
    const results = await Promise.allSettled(
      entries.map(async ({ stream, item }): Promise<ArtifactRow | null> => {
        if (item.msgType !== MSG_VIDEO && item.msgType !== MSG_SHARE) throw new UnrecoverableError(`frame.save got msgType ${item.msgType}`);
        const data = Buffer.from(item.data, 'base64');
        if (data.length === 0) return null;
        const kind: ArtifactKind = item.msgType === MSG_SHARE ? 'share_frame' : 'video_frame';
        const fmt = frameFormat(data);
        const key = buildMediaKey({ sessionId: stream.sessionId, kind, userName: item.userName, userId: item.userId, name: item.timestamp, ext: fmt.ext });
        const put = await this.storage.put(key, data, fmt.contentType);
        return { ...this.base(stream, item, kind), storageKey: key, contentType: fmt.contentType, bytes: put.bytes, sha256: put.sha256, durationMs: null, meta: {} };
      }),
    );
    const saved = await this.insertArtifacts(settledRows(results));
    this.observe('frame', entries);
    this.throwIfAnyFailed('frame', results);
    return saved;
  }

  async saveChat(p: MediaBatchPayload): Promise<number> {
    const entries = await this.liveEntries(p);
    // Written in parallel, as frames are: a batch holds the chat of every stream of the process.
    const results = await Promise.allSettled(
      entries.map(async ({ stream, item }): Promise<ArtifactRow> => {
        const doc = { timestamp: item.timestamp, user_id: item.userId, user_name: item.userName ?? null, text: item.data, ...(item.meta ?? {}) };
        const body = Buffer.from(JSON.stringify(doc, null, 2));
        const idPart = typeof item.meta?.message_id === 'string' ? item.meta.message_id : sha8(item.data);
        const key = buildMediaKey({ sessionId: stream.sessionId, kind: 'chat', userName: item.userName, userId: item.userId, name: `${item.timestamp}_${idPart}`, ext: 'json' });
        const put = await this.storage.put(key, body, 'application/json');
        return { ...this.base(stream, item, 'chat'), storageKey: key, contentType: 'application/json', bytes: put.bytes, sha256: put.sha256, durationMs: null, meta: { text: dbText(item.data, 4000) } };
      }),
    );
    const saved = await this.insertArtifacts(settledRows(results));
    this.observe('chat', entries);
    this.throwIfAnyFailed('chat', results);
    return saved;
  }

  /**
   * The items written are recorded first; then a failed one fails the job so it is retried
   * (saves are idempotent: the stored items are rewritten as they are). A bad payload
   * (UnrecoverableError) is not retried.
   */
  private throwIfAnyFailed(kind: string, results: Array<PromiseSettledResult<unknown>>): void {
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length === 0) return;
    const first = failed.find((f) => f.reason instanceof UnrecoverableError) ?? failed[0];
    this.logger.warn(`${failed.length} of ${results.length} ${kind} item(s) could not be stored (the others were): ${errorMessage(first.reason)}`);
    throw first.reason;
  }

  async saveTranscripts(p: MediaBatchPayload): Promise<number> {
    const entries = await this.liveEntries(p);
    const existing = await this.sessions.existingIds(entries.map((e) => e.stream.sessionId));
    const kept = entries.filter((e) => existing.has(e.stream.sessionId));
    if (kept.length === 0) return 0;
    const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : d);
    const rows: TranscriptRow[] = kept.map(({ stream, item }) => ({
      sessionId: stream.sessionId,
      rtmsStreamId: stream.rtmsStreamId,
      userId: String(item.userId),
      userName: dbText(item.userName),
      text: dbText(item.data, 100_000)!, // (data is a string: never null)
      startMs: num(item.meta?.start_time, item.timestamp),
      endMs: num(item.meta?.end_time, item.timestamp),
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
   * media. Announced (media.deleted) with the rows' deletion: always on the first pass,
   * on the follow-up pass only when it found something.
   */
  async purgeStream(rtmsStreamId: string, pass = 1): Promise<number> {
    await this.redis.set(this.revokedKey(rtmsStreamId), '1', 'EX', 7 * 24 * 3600);
    const keys = await this.artifacts.storageKeysForStream(rtmsStreamId);
    for (const k of keys) await this.storage.delete(k);
    const sessionId = (await this.streams.findByStreamId(rtmsStreamId))?.sessionId ?? null;
    await this.db.transaction(async (em) => {
      await this.artifacts.deleteForStream(rtmsStreamId, em);
      await this.transcripts.deleteForStream(rtmsStreamId, em);
      await this.audioSegments.deleteForStream(rtmsStreamId, em);
      if (sessionId && (pass === 1 || keys.length > 0)) {
        await this.appEvents.record(
          { type: AppEventType.MediaDeleted, sessionId, data: { reason: 'stream_revoked', rtms_stream_id: rtmsStreamId, artifacts_deleted: keys.length } },
          em,
        );
      }
    });
    this.logger.log(`Purged stored media of revoked stream ${rtmsStreamId}: ${keys.length} object(s)`);
    return keys.length;
  }

  /** Deletes every stored object of a session (its rows go with the session row). */
  async purgeSessionObjects(sessionId: string): Promise<number> {
    const n = await this.storage.deletePrefix(sessionPrefix(sessionId));
    if (n > 0) this.logger.log(`Deleted ${n} stored object(s) of session ${sessionId}`);
    return n;
  }

  private base(stream: StreamMediaItems, item: MediaItem, kind: ArtifactKind) {
    return { sessionId: stream.sessionId, rtmsStreamId: stream.rtmsStreamId, kind, userId: String(item.userId), userName: dbText(item.userName), capturedAt: new Date(item.timestamp) };
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
