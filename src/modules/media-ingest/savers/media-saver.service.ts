import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { UnrecoverableError } from 'bullmq';
import Redis from 'ioredis';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';
import type { MediaBatchPayload, MediaItem } from '../../../jobs/job-payloads';
import type { CapturePolicy } from '../../sessions/capture-policy';
import { SessionNotFoundError } from '../../sessions/sessions.errors';
import { SessionsService } from '../../sessions/sessions.service';
import { ArtifactKind, buildMediaKey, sessionPrefix } from '../storage/media-key';
import { MEDIA_STORAGE, MediaStorage } from '../storage/media-storage';
import { assemblePackets, Packet, sampleRateHz, toWav } from './wav';

const MSG_AUDIO = 14;
const MSG_VIDEO = 15;
const MSG_SHARE = 16;
/** How far (Zoom ms) past a segment's end audio must reach before the segment is written out. */
const SEGMENT_GRACE_MS = 2000;
/** Parts of finalized segments are kept this long for late packets, then pruned. */
const PART_RETENTION_MIN = 10;

interface ArtifactRow {
  sessionId: string;
  rtmsStreamId: string;
  kind: ArtifactKind;
  userId: string;
  userName: string | null;
  storageKey: string;
  contentType: string;
  bytes: number;
  sha256: string;
  capturedAt: Date;
  durationMs: number | null;
  meta: Record<string, unknown>;
}

/** Frame container from its first bytes: JPEG/PNG as received, anything else H.264 Annex-B. */
export function frameFormat(data: Buffer): { ext: string; contentType: string } {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return { ext: 'jpg', contentType: 'image/jpeg' };
  if (data.length >= 8 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return { ext: 'png', contentType: 'image/png' };
  return { ext: 'h264', contentType: 'video/h264' };
}

/** Postgres text cannot hold NUL; names are also length-capped. Nothing else is changed. */
export const dbText = (s: string | null | undefined, max = 512): string | null => (s == null ? null : s.replace(/\0/g, '\uFFFD').slice(0, max));

const sha8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);
const isFkViolation = (err: unknown) => err instanceof QueryFailedError && (err as QueryFailedError & { code?: string }).code === '23503';

/**
 * The savers of the media-frames queue. Every save is idempotent: storage keys are
 * deterministic and rows have unique natural keys, so a retried or re-run job rewrites
 * the same objects and inserts nothing twice. Objects are written before their rows; a
 * row therefore always points at a complete object.
 */
@Injectable()
export class MediaSaverService {
  private readonly logger = new Logger(MediaSaverService.name);
  private readonly policyCache = new Map<string, { policy: CapturePolicy; at: number }>();
  /** (stream|user) → the last segment boundary checked for due segments in this process. */
  private readonly dueChecked = new Map<string, number>();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(MEDIA_STORAGE) private readonly storage: MediaStorage,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly sessions: SessionsService,
    private readonly config: ConfigService<AppConfig, true>,
    private readonly metrics: MetricsService,
  ) {}

  private revokedKey(rtmsStreamId: string): string {
    return `${this.config.get('queues', { infer: true }).prefix}:media-revoked:${rtmsStreamId}`;
  }

  /** Media of a revoked stream (stop reason 8) is never written again. */
  async isRevoked(rtmsStreamId: string): Promise<boolean> {
    return (await this.redis.exists(this.revokedKey(rtmsStreamId))) === 1;
  }

  private observe(kind: string, items: MediaItem[]): void {
    const now = Date.now();
    this.metrics.counter({ name: 'rtms_hub_media_saved_total', help: 'Media items saved', labelNames: ['kind'] }).inc({ kind }, items.length);
    const h = this.metrics.histogram({ name: 'rtms_hub_media_save_latency_seconds', help: 'Receive-to-storage latency', labelNames: ['kind'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
    for (const i of items) h.observe({ kind }, Math.max(0, now - i.receivedAt) / 1000);
  }

  async saveFrames(p: MediaBatchPayload): Promise<number> {
    if (await this.isRevoked(p.rtmsStreamId)) return 0;
    const rows: ArtifactRow[] = [];
    const written: string[] = [];
    await Promise.all(
      p.items.map(async (item) => {
        if (item.msgType !== MSG_VIDEO && item.msgType !== MSG_SHARE) throw new UnrecoverableError(`frame.save got msgType ${item.msgType}`);
        const data = Buffer.from(item.data, 'base64');
        if (data.length === 0) return;
        const kind: ArtifactKind = item.msgType === MSG_SHARE ? 'share_frame' : 'video_frame';
        const fmt = frameFormat(data);
        const key = buildMediaKey({ sessionId: p.sessionId, kind, userName: item.userName, userId: item.userId, name: item.timestamp, ext: fmt.ext });
        const put = await this.storage.put(key, data, fmt.contentType);
        written.push(key);
        rows.push({ ...this.base(p, item, kind), storageKey: key, contentType: fmt.contentType, bytes: put.bytes, sha256: put.sha256, durationMs: null, meta: {} });
      }),
    );
    await this.insertArtifacts(rows, written);
    this.observe('frame', p.items);
    return rows.length;
  }

  async saveChat(p: MediaBatchPayload): Promise<number> {
    if (await this.isRevoked(p.rtmsStreamId)) return 0;
    const rows: ArtifactRow[] = [];
    const written: string[] = [];
    for (const item of p.items) {
      const doc = { timestamp: item.timestamp, user_id: item.userId, user_name: item.userName ?? null, text: item.data, ...(item.meta ?? {}) };
      const body = Buffer.from(JSON.stringify(doc, null, 2));
      const idPart = typeof item.meta?.message_id === 'string' ? item.meta.message_id : sha8(item.data);
      const key = buildMediaKey({ sessionId: p.sessionId, kind: 'chat', userName: item.userName, userId: item.userId, name: `${item.timestamp}_${idPart}`, ext: 'json' });
      const put = await this.storage.put(key, body, 'application/json');
      written.push(key);
      rows.push({ ...this.base(p, item, 'chat'), storageKey: key, contentType: 'application/json', bytes: put.bytes, sha256: put.sha256, durationMs: null, meta: { text: dbText(item.data, 4000) } });
    }
    await this.insertArtifacts(rows, written);
    this.observe('chat', p.items);
    return rows.length;
  }

  async saveTranscripts(p: MediaBatchPayload): Promise<number> {
    if (await this.isRevoked(p.rtmsStreamId)) return 0;
    if (p.items.length === 0) return 0;
    const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : d);
    const values: unknown[] = [];
    const tuples = p.items.map((item, i) => {
      const start = num(item.meta?.start_time, item.timestamp);
      const end = num(item.meta?.end_time, item.timestamp);
      values.push(p.sessionId, p.rtmsStreamId, String(item.userId), dbText(item.userName), dbText(item.data, 100_000), start, end, item.timestamp, item.meta?.language === undefined ? null : num(item.meta.language, 0), item.meta?.attribute === undefined ? null : num(item.meta.attribute, 0));
      const o = i * 10;
      return `($${o + 1},$${o + 2},$${o + 3},$${o + 4},$${o + 5},$${o + 6},$${o + 7},$${o + 8},$${o + 9},$${o + 10})`;
    });
    try {
      const res: unknown[] = await this.db.query(
        `INSERT INTO transcript_segments (session_id, rtms_stream_id, user_id, user_name, text, start_ms, end_ms, timestamp_ms, language, attribute)
         VALUES ${tuples.join(',')}
         ON CONFLICT (rtms_stream_id, user_id, timestamp_ms, start_ms) DO NOTHING RETURNING id`,
        values,
      );
      this.observe('transcript', p.items);
      return res.length;
    } catch (err) {
      if (isFkViolation(err)) throw new UnrecoverableError(`session ${p.sessionId} no longer exists`);
      throw err;
    }
  }

  /**
   * Audio: packets are grouped by (user, segment) and appended as one PCM part per
   * group in a transaction (unique per first packet: a retry adds nothing). Segments
   * that this batch's audio has passed by more than the grace are written out as WAV.
   */
  async saveAudio(p: MediaBatchPayload): Promise<number> {
    if (await this.isRevoked(p.rtmsStreamId)) return 0;
    const policy = await this.policyOf(p.sessionId);
    const segMs = Math.max(1, policy.audio.segment_seconds) * 1000;
    const groups = new Map<string, MediaItem[]>();
    for (const item of p.items) {
      if (item.msgType !== MSG_AUDIO) throw new UnrecoverableError(`audio.segment.save got msgType ${item.msgType}`);
      const k = `${item.userId}|${Math.floor(item.timestamp / segMs) * segMs}`;
      const g = groups.get(k);
      if (g) g.push(item);
      else groups.set(k, [item]);
    }
    // One transaction of three set-based statements per job (not a transaction or three
    // statements per (user, segment) group: Postgres statements were the bottleneck at
    // scale), and no exclusive lock on the segment rows: every job of a stream touches
    // the same few segments. FOR SHARE lets concurrent jobs add parts side by side while
    // keeping the finalizer (FOR UPDATE SKIP LOCKED) away until they commit. Rows are
    // inserted and locked in key order. Parts stay unique per first packet, so a retried
    // job adds nothing.
    const ordered = [...groups.entries()]
      .map(([k, items]) => {
        const [userId, segStart] = k.split('|');
        items.sort((a, b) => a.timestamp - b.timestamp);
        return { userId, segStart: Number(segStart), items, pcm: items.map((i) => Buffer.from(i.data, 'base64')) };
      })
      .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.segStart - b.segStart));
    const staleMs = Math.max(100, Math.floor(this.config.get('storage', { infer: true }).audioIdleFinalizeMs / 4));
    const touch: Array<{ id: string; reopen: boolean }> = [];
    let latePackets = 0;
    try {
      await this.db.transaction(async (em) => {
        touch.length = 0;
        latePackets = 0;
        await em.query(
          `INSERT INTO audio_segments (session_id, rtms_stream_id, user_id, user_name, segment_start_ms, segment_ms, sample_rate, channels)
           SELECT $1, $2, u.user_id, u.user_name, u.seg_start, $3, u.rate, u.channels
             FROM unnest($4::varchar[], $5::varchar[], $6::bigint[], $7::int[], $8::int[]) AS u(user_id, user_name, seg_start, rate, channels)
            ORDER BY u.user_id, u.seg_start
           ON CONFLICT (rtms_stream_id, user_id, segment_start_ms) DO NOTHING`,
          [
            p.sessionId,
            p.rtmsStreamId,
            segMs,
            ordered.map((g) => g.userId),
            ordered.map((g) => dbText(g.items.find((i) => i.userName)?.userName)),
            ordered.map((g) => String(g.segStart)),
            ordered.map((g) => sampleRateHz(g.items[0].meta?.sample_rate)),
            ordered.map((g) => (typeof g.items[0].meta?.channels === 'number' ? g.items[0].meta.channels : 1)),
          ],
        );
        const segs: Array<{ id: string; user_id: string; seg_start: string; status: string; stale: boolean }> = await em.query(
          `SELECT s.id, s.user_id, s.segment_start_ms::text AS seg_start, s.status,
                  (s.last_part_at IS NULL OR s.last_part_at < now() - make_interval(secs => $4::double precision / 1000)) AS stale
             FROM audio_segments s JOIN unnest($2::varchar[], $3::bigint[]) AS u(user_id, seg_start) ON s.user_id = u.user_id AND s.segment_start_ms = u.seg_start
            WHERE s.rtms_stream_id = $1
            ORDER BY s.user_id, s.segment_start_ms
              FOR SHARE OF s`,
          [p.rtmsStreamId, ordered.map((g) => g.userId), ordered.map((g) => String(g.segStart)), staleMs],
        );
        const segOf = new Map(segs.map((r) => [`${r.user_id}|${r.seg_start}`, r]));
        const rows = ordered.map((g) => {
          const seg = segOf.get(`${g.userId}|${g.segStart}`);
          if (!seg) throw new Error(`audio segment ${g.userId}/${g.segStart} of stream ${p.rtmsStreamId} vanished`);
          return { g, seg };
        });
        // All PCM as one binary parameter; each part is a slice of it.
        let offset = 0;
        const offsets = rows.map(({ g }) => {
          const o = offset;
          offset += g.pcm.reduce((n, b) => n + b.length, 0);
          return o;
        });
        const inserted: Array<{ segment_id: string }> = await em.query(
          `INSERT INTO audio_parts (segment_id, first_ts, packet_ts, packet_len, pcm)
           SELECT u.segment_id, u.first_ts, string_to_array(u.ts, ',')::bigint[], string_to_array(u.lens, ',')::int[], substring($6::bytea FROM u.off + 1 FOR u.size)
             FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::int[], $7::int[]) AS u(segment_id, first_ts, ts, lens, off, size)
           ON CONFLICT (segment_id, first_ts) DO NOTHING RETURNING segment_id`,
          [
            rows.map(({ seg }) => seg.id),
            rows.map(({ g }) => String(g.items[0].timestamp)),
            rows.map(({ g }) => g.items.map((i) => i.timestamp).join(',')),
            rows.map(({ g }) => g.pcm.map((b) => b.length).join(',')),
            offsets,
            Buffer.concat(rows.flatMap(({ g }) => g.pcm)),
            rows.map(({ g }) => g.pcm.reduce((n, b) => n + b.length, 0)),
          ],
        );
        const added = new Set(inserted.map((r) => r.segment_id));
        for (const { g, seg } of rows) {
          if (seg.status === 'sealed') {
            if (added.has(seg.id)) {
              this.logger.warn(`Late audio for sealed segment ${seg.id} (stream ${p.rtmsStreamId}, user ${g.userId}); kept as part, not in WAV`);
              latePackets += g.items.length;
            }
          } else if (seg.status === 'final' || seg.stale) {
            // Reopen a written segment (its WAV is rebuilt), or keep an open one from looking idle.
            touch.push({ id: seg.id, reopen: seg.status === 'final' });
          }
        }
      });
    } catch (err) {
      if (isFkViolation(err)) throw new UnrecoverableError(`session ${p.sessionId} no longer exists`);
      throw err;
    }
    // After the commit, one short statement per row (one lock at a time: no deadlocks).
    for (const t of touch) {
      await this.db.query(
        t.reopen
          ? `UPDATE audio_segments SET status = 'open', last_part_at = now(), updated_at = now() WHERE id = $1 AND status IN ('open', 'final')`
          : `UPDATE audio_segments SET last_part_at = now(), updated_at = now() WHERE id = $1 AND status = 'open'`,
        [t.id],
      );
    }
    if (latePackets > 0) this.metrics.counter({ name: 'rtms_hub_audio_late_packets_total', help: 'Audio packets that arrived after their segment was sealed' }).inc(latePackets);
    // Segments this audio has passed by more than the grace are written out. Checked once
    // per (stream, user) and segment boundary in this process; the idle sweeper covers the rest.
    const maxTsByUser = new Map<string, number>();
    for (const g of ordered) maxTsByUser.set(g.userId, Math.max(maxTsByUser.get(g.userId) ?? 0, g.items[g.items.length - 1].timestamp));
    const check = [...maxTsByUser.entries()].filter(([userId, maxTs]) => {
      const bucket = Math.floor((maxTs - SEGMENT_GRACE_MS) / segMs);
      const key = `${p.rtmsStreamId}|${userId}`;
      if ((this.dueChecked.get(key) ?? -Infinity) >= bucket) return false;
      if (this.dueChecked.size > 50_000) this.dueChecked.clear();
      this.dueChecked.set(key, bucket);
      return true;
    });
    if (check.length > 0) {
      const due: Array<{ id: string }> = await this.db.query(
        `SELECT s.id FROM audio_segments s JOIN unnest($2::varchar[], $3::bigint[]) AS u(user_id, max_ts) ON s.user_id = u.user_id
          WHERE s.rtms_stream_id = $1 AND s.status = 'open' AND s.segment_start_ms + s.segment_ms + $4 <= u.max_ts`,
        [p.rtmsStreamId, check.map(([u]) => u), check.map(([, ts]) => String(ts)), SEGMENT_GRACE_MS],
      );
      for (const s of due) await this.finalizeSegment(s.id);
    }
    this.observe('audio', p.items);
    return p.items.length;
  }

  /** Writes one segment's WAV from all its parts (again, if late parts arrived). Safe to run concurrently. */
  async finalizeSegment(segmentId: string): Promise<boolean> {
    return this.db.transaction(async (em) => {
      const rows: Array<{ id: string; session_id: string; rtms_stream_id: string; user_id: string; user_name: string | null; segment_start_ms: string; segment_ms: number; sample_rate: number; channels: number; status: string }> =
        await em.query(`SELECT * FROM audio_segments WHERE id = $1 FOR UPDATE SKIP LOCKED`, [segmentId]);
      const seg = rows[0];
      if (!seg || seg.status !== 'open') return false;
      const parts: Array<{ packet_ts: string[]; packet_len: number[]; pcm: Buffer }> = await em.query(
        `SELECT packet_ts, packet_len, pcm FROM audio_parts WHERE segment_id = $1 ORDER BY first_ts`,
        [segmentId],
      );
      const packets: Packet[] = [];
      for (const part of parts) {
        let off = 0;
        part.packet_ts.forEach((ts, i) => {
          const len = part.packet_len[i];
          packets.push({ ts: Number(ts), data: part.pcm.subarray(off, off + len) });
          off += len;
        });
      }
      const rate = this.inferRate(packets, seg.sample_rate, seg.channels);
      const asm = assemblePackets(packets, rate, seg.channels);
      const wav = toWav(asm.pcm, rate, seg.channels);
      const segStart = Number(seg.segment_start_ms);
      const key = buildMediaKey({ sessionId: seg.session_id, kind: 'audio_segment', userName: seg.user_name, userId: seg.user_id, name: segStart, ext: 'wav' });
      const put = await this.storage.put(key, wav, 'audio/wav');
      const durationMs = Math.round((asm.pcm.length / (2 * seg.channels * rate)) * 1000);
      const ids = await this.upsertArtifacts(em, [
        {
          sessionId: seg.session_id,
          rtmsStreamId: seg.rtms_stream_id,
          kind: 'audio_segment',
          userId: seg.user_id,
          userName: seg.user_name,
          storageKey: key,
          contentType: 'audio/wav',
          bytes: put.bytes,
          sha256: put.sha256,
          capturedAt: new Date(asm.firstTs),
          durationMs,
          meta: { sample_rate: rate, channels: seg.channels, bits_per_sample: 16, segment_start_ms: segStart, segment_ms: seg.segment_ms, first_ts: asm.firstTs, last_ts: asm.lastTs, packets: asm.packets, duplicates: asm.duplicates, gaps: asm.gaps },
        },
      ]);
      await em.query(`UPDATE audio_segments SET status = 'final', sample_rate = $2, artifact_id = $3, updated_at = now() WHERE id = $1`, [segmentId, rate, ids[0]]);
      return true;
    });
  }

  /** Rate from metadata when the stream reported one, else from packet size ÷ timestamp step (mono L16). */
  private inferRate(packets: Packet[], fallback: number, channels: number): number {
    if (packets.length < 2) return fallback;
    const sorted = [...packets].sort((a, b) => a.ts - b.ts);
    for (let i = 1; i < sorted.length; i++) {
      const step = sorted[i].ts - sorted[i - 1].ts;
      if (step > 0) {
        const hz = (sorted[i - 1].data.length * 1000) / (2 * channels * step);
        const known = [8000, 16000, 32000, 48000].find((r) => Math.abs(r - hz) / r < 0.05);
        return known ?? fallback;
      }
    }
    return fallback;
  }

  /** Writes out segments idle for `idleMs` (stream stopped, user muted or left) and prunes old parts. */
  async finalizeIdle(idleMs: number, rtmsStreamId?: string): Promise<number> {
    const due: Array<{ id: string }> = await this.db.query(
      `SELECT id FROM audio_segments WHERE status = 'open' AND (last_part_at < now() - ($1::int * interval '1 millisecond') ${rtmsStreamId ? 'OR rtms_stream_id = $2' : ''}) ORDER BY segment_start_ms LIMIT 500`,
      rtmsStreamId ? [idleMs, rtmsStreamId] : [idleMs],
    );
    let n = 0;
    for (const s of due) if (await this.finalizeSegment(s.id)) n++;
    await this.db.query(
      `WITH sealed AS (
         UPDATE audio_segments SET status = 'sealed' WHERE status = 'final' AND updated_at < now() - ($1::int * interval '1 minute') RETURNING id)
       DELETE FROM audio_parts WHERE segment_id IN (SELECT id FROM sealed)`,
      [PART_RETENTION_MIN],
    );
    return n;
  }

  /** Stop reason 8: deletes every stored object and row of the stream and refuses its later media. */
  async purgeStream(rtmsStreamId: string): Promise<number> {
    await this.redis.set(this.revokedKey(rtmsStreamId), '1', 'EX', 7 * 24 * 3600);
    const keys: Array<{ storage_key: string }> = await this.db.query(`SELECT storage_key FROM media_artifacts WHERE rtms_stream_id = $1`, [rtmsStreamId]);
    for (const k of keys) await this.storage.delete(k.storage_key);
    await this.db.transaction(async (em) => {
      await em.query(`DELETE FROM media_artifacts WHERE rtms_stream_id = $1`, [rtmsStreamId]);
      await em.query(`DELETE FROM transcript_segments WHERE rtms_stream_id = $1`, [rtmsStreamId]);
      await em.query(`DELETE FROM audio_segments WHERE rtms_stream_id = $1`, [rtmsStreamId]);
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

  private base(p: MediaBatchPayload, item: MediaItem, kind: ArtifactKind) {
    return { sessionId: p.sessionId, rtmsStreamId: p.rtmsStreamId, kind, userId: String(item.userId), userName: dbText(item.userName), capturedAt: new Date(item.timestamp) };
  }

  private async insertArtifacts(rows: ArtifactRow[], written: string[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.upsertArtifacts(this.db.manager, rows);
    } catch (err) {
      if (isFkViolation(err)) {
        // The session was deleted meanwhile: take back what this job wrote.
        await Promise.all(written.map((k) => this.storage.delete(k).catch(() => undefined)));
        throw new UnrecoverableError(`session ${rows[0].sessionId} no longer exists`);
      }
      throw err;
    }
  }

  private async upsertArtifacts(em: EntityManager, all: ArtifactRow[]): Promise<string[]> {
    // One row per key: a batch may carry the same frame twice, and ON CONFLICT DO UPDATE refuses that.
    const rows = [...new Map(all.map((r) => [r.storageKey, r])).values()];
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.sessionId, r.rtmsStreamId, r.kind, r.userId, r.userName, r.storageKey, r.contentType, r.bytes, r.sha256, r.capturedAt, r.durationMs, JSON.stringify(r.meta));
      const o = i * 12;
      return `(${Array.from({ length: 12 }, (_, j) => `$${o + j + 1}`).join(',')})`;
    });
    const res: Array<{ id: string }> = await em.query(
      `INSERT INTO media_artifacts (session_id, rtms_stream_id, kind, user_id, user_name, storage_key, content_type, bytes, sha256, captured_at, duration_ms, meta)
       VALUES ${tuples.join(',')}
       ON CONFLICT (storage_key) DO UPDATE SET bytes = EXCLUDED.bytes, sha256 = EXCLUDED.sha256, content_type = EXCLUDED.content_type,
         duration_ms = EXCLUDED.duration_ms, meta = EXCLUDED.meta, captured_at = EXCLUDED.captured_at
       RETURNING id`,
      values,
    );
    return res.map((r) => r.id);
  }

  private async policyOf(sessionId: string): Promise<CapturePolicy> {
    const hit = this.policyCache.get(sessionId);
    if (hit && Date.now() - hit.at < 30_000) return hit.policy;
    let policy: CapturePolicy;
    try {
      const session = await this.sessions.get(sessionId);
      policy = { ...this.sessions.defaultCapturePolicy(), ...(session.capturePolicy as unknown as Partial<CapturePolicy>) };
    } catch (err) {
      if (err instanceof SessionNotFoundError) throw new UnrecoverableError(`session ${sessionId} no longer exists`);
      throw err;
    }
    if (this.policyCache.size > 10_000) this.policyCache.clear();
    this.policyCache.set(sessionId, { policy, at: Date.now() });
    return policy;
  }
}
