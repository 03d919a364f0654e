import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Counter } from 'prom-client';
import { DataSource, EntityManager } from 'typeorm';
import { errorMessage } from '../../../common/errors/error-message';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { AppConfig } from '../../../config/app.config';
import { EventSource, SessionEventsService } from '../../sessions';
import { AudioSegmentsRepository, LostSegment, StoredPart, StoredSegment } from '../repositories/audio-segments.repository';
import type { ArtifactRow } from '../repositories/media-artifacts.repository';
import { RecordingReadyService } from '../recording/recording-ready.service';
import { MediaSaverService } from '../savers/media-saver.service';
import { isMediaTimestamp } from '../protocol/rtms-message-parser';
import { assemblePackets, Packet, toWav } from '../savers/wav';
import { buildMediaKey } from '../storage/media-key';
import { MEDIA_STORAGE, MediaStorage } from '../storage/media-storage';
import { partKey, WrittenParts } from './audio-spool.ports';
import { MissingAudio, missingAudio, missingPartsPayload, segmentsPayload } from './missing-audio';
import { segmentRate } from './sample-rate';
import { readSpool, SPOOL_FILE } from './spool-files';

/** Parts of written segments are kept this long for late packets, then pruned with their spool files. */
export const PART_RETENTION_MIN = 10;
/** Segments written out per transaction by the sweep. */
const WRITE_BATCH = 20;
/**
 * PCM written out per transaction at most (always one segment at least). A transaction
 * keeps its segments locked until its last WAV is stored, and a segment may be an hour of
 * audio (115 MB at 16 kHz): batches cut by count alone could hold gigabytes, and their
 * locks for as long as storing all of it takes.
 */
export const WRITE_BATCH_BYTES = 32 * 1024 * 1024;
/** How often a host looks for its own segments marked lost (and at its first sweep). */
const RECOVER_EVERY_MS = 60_000;
/** Spool files no part points at are removed once they have not been written for this long. */
const UNUSED_GRACE_MS = 60_000;
/**
 * A segment the sweep failed to write is tried again after this, doubling with each
 * failure up to SWEEP_RETRY_MAX_MS: one that always fails (storage refusing its key, a row
 * Postgres refuses) must not be rebuilt, and logged, at every sweep — every few seconds —
 * for as long as the process runs.
 */
export const SWEEP_RETRY_BASE_MS = 5_000;
export const SWEEP_RETRY_MAX_MS = 5 * 60_000;

/** A segment written out: its artifact row, the rate used, and what it lacks. */
interface WrittenSegment {
  segment: StoredSegment;
  artifact: ArtifactRow;
  rate: number;
  missing: MissingAudio | null;
}

/** A segment to write out, with the PCM of its parts this process still holds. */
type SegmentToWrite = { id: string; written?: WrittenParts };

/** One transaction's outcome: what it wrote, what failed alone, what was left for the next (the byte budget). */
interface BatchOutcome {
  written: WrittenSegment[];
  failed: Array<{ id: string; err: unknown }>;
  deferred: SegmentToWrite[];
}

/**
 * Writes audio segments out as WAV from their spooled parts. Runs on the host that
 * spooled them (the PCM is in its AUDIO_SPOOL_DIR): the stream workers call it when a
 * segment is complete, and sweep for idle segments. Idempotent: the object key is
 * deterministic and the artifact row is upserted by it, so writing a segment again (a
 * late part reopened it, or a crash came between the object and the row) leaves one
 * object and one row.
 */
@Injectable()
export class AudioSegmentWriter {
  private readonly logger = new Logger(AudioSegmentWriter.name);
  readonly spoolDir: string;
  readonly spoolHost: string;
  private readonly missingPackets?: Counter;
  private readonly writeFailures?: Counter;
  /** When the sweep next looks for this host's segments marked lost (recoverLost). */
  private nextRecoveryAt = 0;
  /** Segments whose last write failed: how often in a row, and when the sweep may try again. */
  private readonly sweepRetries = new Map<string, { failures: number; retryAt: number }>();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(MEDIA_STORAGE) private readonly storage: MediaStorage,
    private readonly savers: MediaSaverService,
    config: ConfigService<AppConfig, true>,
    // Injected by Nest; built from `db` where the writer is constructed by hand (tests).
    private readonly segments: AudioSegmentsRepository = new AudioSegmentsRepository(db),
    // Told when a session's segments are written (its recording may be complete); absent in hand-built writers.
    @Optional() private readonly recording?: RecordingReadyService,
    // Where a WAV written without some of its parts is reported; hand-built writers (tests) only log it.
    @Optional() private readonly events?: SessionEventsService,
    @Optional() metrics?: MetricsService,
  ) {
    const settings = config.get('storage', { infer: true });
    this.spoolDir = path.resolve(settings.audioSpoolDir);
    this.spoolHost = settings.spoolHost;
    this.missingPackets = metrics?.counter({ name: 'rtms_hub_audio_packets_missing_total', help: 'Audio packets left out of written WAV segments: their spooled parts were missing from the spool' });
    this.writeFailures = metrics?.counter({ name: 'rtms_hub_audio_segment_write_failures_total', help: 'Audio segments whose WAV could not be written (the sweep retries)' });
  }

  /**
   * Writes one segment's WAV from all its parts (again, if late parts arrived). False when
   * there is nothing to do: not open, another writer holds it, or it is spooled elsewhere.
   */
  async finalizeSegment(segmentId: string, written?: WrittenParts): Promise<boolean> {
    return (await this.finalizeSegments([{ id: segmentId, written }])) === 1;
  }

  /**
   * Writes out several segments, a few statements per transaction for the lot rather than
   * per segment, each transaction up to WRITE_BATCH_BYTES of PCM. Segments not open, held
   * by another writer (SKIP LOCKED) or spooled on another host are left alone. A segment
   * written without some of its parts (their spooled bytes are gone) gets `media.lost` on
   * its session's timeline in the same transaction, and is counted once that commits.
   *
   * One bad segment costs only itself: one whose WAV cannot be built or stored is left out
   * of its transaction, and when a statement of the batch fails (rolling the batch back)
   * its segments are written again one per transaction. Segments that failed stay open for
   * the sweep to retry. Returns how many were written; when some were, the failures are
   * counted and logged here, and when none was (every one tried failed: storage or the
   * database is down) the first error is thrown, for the caller to count and log as before.
   */
  async finalizeSegments(items: SegmentToWrite[]): Promise<number> {
    const { written, failed } = await this.writeSegments(items);
    if (failed.length > 0 && written === 0) throw failed[0].err;
    return written;
  }

  /** finalizeSegments, telling which segments failed (for the sweep's retry schedule). */
  private async writeSegments(items: SegmentToWrite[]): Promise<{ written: number; failed: BatchOutcome['failed'] }> {
    const written: WrittenSegment[] = [];
    const failed: BatchOutcome['failed'] = [];
    let rest = items;
    while (rest.length > 0) {
      let outcome: BatchOutcome;
      try {
        outcome = await this.writeBatch(rest);
      } catch (err) {
        // A statement of the batch failed and rolled it all back: each segment again, alone.
        if (rest.length === 1) failed.push({ id: rest[0].id, err });
        else for (const one of rest) this.collect(await this.writeAlone(one), written, failed);
        break;
      }
      this.collect(outcome, written, failed);
      rest = outcome.deferred;
    }
    if (failed.length > 0 && written.length > 0) {
      this.writeFailures?.inc(failed.length);
      this.logger.warn(`${failed.length} audio segment(s) could not be written yet (the sweep retries), e.g. ${failed[0].id}: ${errorMessage(failed[0].err)}`);
    }
    if (written.length > 0) await this.recording?.afterMediaLanded(new Set(written.map((w) => w.segment.session_id)));
    return { written: written.length, failed };
  }

  private writeAlone(one: SegmentToWrite): Promise<BatchOutcome> {
    return this.writeBatch([one]).catch((err: unknown) => ({ written: [], failed: [{ id: one.id, err }], deferred: [] }));
  }

  private collect(outcome: BatchOutcome, written: WrittenSegment[], failed: BatchOutcome['failed']): void {
    for (const w of outcome.written) if (w.missing) this.missingPackets?.inc(w.missing.packets);
    written.push(...outcome.written);
    failed.push(...outcome.failed);
  }

  /**
   * One transaction: claims the segments, writes the WAVs of as many as fit in
   * WRITE_BATCH_BYTES (one at least) and records them; the others are returned, to be
   * claimed again by the next. A segment whose WAV fails is left out (and stays open).
   */
  private async writeBatch(items: SegmentToWrite[]): Promise<BatchOutcome> {
    const cache = new Map(items.map((i) => [i.id, i.written]));
    const failed: BatchOutcome['failed'] = [];
    let deferred: SegmentToWrite[] = [];
    const written = await this.db.transaction(async (em) => {
      const segs = await this.segments.claimOpen([...cache.keys()], this.spoolHost, em);
      if (segs.length === 0) return [];
      const allParts = await this.segments.findParts(segs.map((x) => x.id), em);
      const partsOf = new Map<string, StoredPart[]>();
      for (const p of allParts) pushTo(partsOf, p.segment_id, p);
      const now = withinBytes(segs, (seg) => pcmBytes(partsOf.get(seg.id) ?? []), WRITE_BATCH_BYTES);
      deferred = segs.slice(now.length).map((seg) => ({ id: seg.id, written: cache.get(seg.id) }));
      const out: WrittenSegment[] = [];
      for (const seg of now) {
        try {
          out.push(await this.writeWav(seg, partsOf.get(seg.id) ?? [], cache.get(seg.id)));
        } catch (err) {
          failed.push({ id: seg.id, err });
        }
      }
      if (out.length === 0) return out;
      const ids = await this.savers.upsertArtifacts(em, out.map((w) => w.artifact));
      await this.segments.markFinal(
        out.map((w) => ({ id: w.segment.id, sampleRate: w.rate, artifactId: ids.get(w.artifact.storageKey) ?? null })),
        em,
      );
      await this.reportMissing(out, ids, em);
      return out;
    });
    return { written, failed, deferred };
  }

  /** One segment's WAV, stored; its artifact row is for the caller to record. */
  private async writeWav(seg: StoredSegment, parts: StoredPart[], written?: WrittenParts): Promise<WrittenSegment> {
    const { packets, missingParts } = await this.packetsOf(parts, written);
    if (missingParts.length > 0) this.logger.error(`Audio segment ${seg.id}: ${missingParts.length} of ${parts.length} part(s) missing from the spool (${this.spoolDir}); written without them`);
    const rate = segmentRate(packets, seg.sample_rate, seg.channels);
    const asm = assemblePackets(packets, rate, seg.channels);
    // (Refused when spooled; parts from before that check was made could still hold one.)
    if (!isMediaTimestamp(asm.firstTs)) throw new RangeError(`first packet timestamp ${asm.firstTs} is not a media timestamp`);
    const wav = toWav(asm.pcm, rate, seg.channels);
    const segStart = Number(seg.segment_start_ms);
    const name = seg.earlier === 0 ? String(segStart) : `${segStart}_${seg.earlier + 1}`;
    const key = buildMediaKey({ sessionId: seg.session_id, kind: 'audio_segment', userName: seg.user_name, userId: seg.user_id, name, ext: 'wav' });
    const put = await this.storage.put(key, wav, 'audio/wav');
    const artifact: ArtifactRow = {
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
      durationMs: Math.round((asm.pcm.length / (2 * seg.channels * rate)) * 1000),
      meta: {
        sample_rate: rate,
        channels: seg.channels,
        bits_per_sample: 16,
        segment_start_ms: segStart,
        segment_ms: seg.segment_ms,
        first_ts: asm.firstTs,
        last_ts: asm.lastTs,
        packets: asm.packets,
        duplicates: asm.duplicates,
        gaps: asm.gaps,
        ...(missingParts.length > 0 ? { missing_parts: missingParts.length } : {}),
        ...(asm.trimmed > 0 ? { trimmed_packets: asm.trimmed } : {}),
      },
    };
    return { segment: seg, artifact, rate, missing: missingParts.length > 0 ? missingAudio(missingParts, rate, seg.channels) : null };
  }

  /** `media.lost` (spool_part_missing) on the timeline of each segment written without some of its parts. */
  private async reportMissing(written: WrittenSegment[], artifactIds: Map<string, string>, em: EntityManager): Promise<void> {
    for (const w of written) {
      if (!w.missing) continue;
      const payload = missingPartsPayload(w.segment, this.spoolHost, w.missing, artifactIds.get(w.artifact.storageKey) ?? null);
      await this.events?.recordEvent(w.segment.session_id, { source: EventSource.Worker, eventType: 'media.lost', payload }, em);
    }
  }

  /**
   * The packets of a segment's parts: from the writer's memory when it still has them
   * (the spool process that wrote them), else from the row (older rows), else from the
   * spool file. Parts whose bytes are nowhere (a spool file on another host, or lost) are
   * left out and returned.
   */
  private async packetsOf(parts: StoredPart[], written?: WrittenParts): Promise<{ packets: Packet[]; missingParts: StoredPart[] }> {
    const packets: Packet[] = [];
    const missingParts: StoredPart[] = [];
    const fromFiles = new Map<string, StoredPart[]>();
    const add = (part: StoredPart, data: Buffer) => {
      let off = 0;
      part.packet_ts.forEach((ts, i) => {
        const len = part.packet_len[i];
        packets.push({ ts: Number(ts), data: data.subarray(off, off + len) });
        off += len;
      });
    };
    for (const part of parts) {
      const cached = written?.get(partKey(Number(part.first_ts), Number(part.last_ts)));
      if (cached && cached.length === part.packet_len.reduce((n, l) => n + l, 0)) add(part, cached);
      else if (part.pcm) add(part, part.pcm);
      else if (part.spool_file) pushTo(fromFiles, part.spool_file, part);
      else missingParts.push(part);
    }
    for (const [file, inFile] of fromFiles) {
      const datas = await readSpool(this.spoolDir, file, inFile.map((p) => ({ offset: Number(p.file_offset), length: p.packet_len.reduce((n, l) => n + l, 0) })));
      inFile.forEach((part, i) => {
        const data = datas?.[i];
        if (data) add(part, data);
        else missingParts.push(part);
      });
    }
    return { packets, missingParts };
  }

  /**
   * This host's sweep: writes out open segments idle for `idleMs` (stream stopped, user
   * muted or left, or the writer crashed), then seals segments written long enough ago,
   * dropping their parts (removeUnusedSpoolFiles then removes the files).
   */
  async sweep(idleMs: number): Promise<{ written: number; sealed: number; recovered: number }> {
    let recovered = 0;
    if (Date.now() >= this.nextRecoveryAt) {
      this.nextRecoveryAt = Date.now() + RECOVER_EVERY_MS;
      // Isolated: a failed recovery must not keep this host's idle segments from being written.
      recovered = await this.recoverLost().catch((err: unknown) => {
        this.logger.warn(`Recovering this host's lost audio segments failed (retried in ${RECOVER_EVERY_MS / 1000} s): ${errorMessage(err)}`);
        return 0;
      });
    }
    const due = this.dueForRetry(await this.segments.findIdleOpen(idleMs, this.spoolHost));
    let written = 0;
    for (let i = 0; i < due.length; i += WRITE_BATCH) {
      const batch = due.slice(i, i + WRITE_BATCH);
      // (A failing segment is contained in writeSegments; this is for anything else: the
      // later batches, and sealing the old segments, must still run.)
      const outcome = await this.writeSegments(batch.map((id) => ({ id }))).catch((err: unknown) => ({ written: 0, failed: batch.map((id) => ({ id, err })) }));
      written += outcome.written;
      if (outcome.written === 0 && outcome.failed.length > 0) {
        this.writeFailures?.inc(outcome.failed.length);
        this.logger.warn(`Audio sweep: writing ${outcome.failed.length} idle segment(s) failed (retried later): ${errorMessage(outcome.failed[0].err)}`);
      }
      this.scheduleRetries(batch, new Set(outcome.failed.map((f) => f.id)));
    }
    const sealed = await this.segments.sealWritten(PART_RETENTION_MIN, this.spoolHost);
    return { written, sealed: sealed.length, recovered };
  }

  /**
   * The idle segments the sweep may try now: those that have not failed, or whose retry
   * time has come. Segments no longer idle and open (written, or by another writer) leave
   * the schedule.
   */
  private dueForRetry(idle: string[]): string[] {
    const stillIdle = new Set(idle);
    for (const id of this.sweepRetries.keys()) if (!stillIdle.has(id)) this.sweepRetries.delete(id);
    const now = Date.now();
    return idle.filter((id) => (this.sweepRetries.get(id)?.retryAt ?? 0) <= now);
  }

  /** After a sweep batch: failed segments wait longer each time (capped), written ones are forgotten. */
  private scheduleRetries(batch: string[], failed: Set<string>): void {
    for (const id of batch) {
      if (!failed.has(id)) {
        this.sweepRetries.delete(id);
        continue;
      }
      const failures = (this.sweepRetries.get(id)?.failures ?? 0) + 1;
      const delay = Math.min(SWEEP_RETRY_MAX_MS, SWEEP_RETRY_BASE_MS * 2 ** (failures - 1));
      this.sweepRetries.set(id, { failures, retryAt: Date.now() + delay });
    }
  }

  /**
   * This host was given up as lost (no heartbeat for SPOOL_HOST_LOST_AFTER_SEC: a long
   * network partition, a host rebooted slowly) and is back with its spool: the segments
   * marked lost on its account that still have PCM here (a part's spool file on this disk,
   * or PCM in the row) are reopened for the sweep to write out, and each session's
   * timeline says so (`media.recovered`, reason spool_host_back) in the same transaction.
   * Segments with nothing here (the host came back on a fresh disk) stay lost. Parts whose
   * bytes are gone after all are reported when written (`media.lost`,
   * spool_part_missing). Runs at the first sweep and every RECOVER_EVERY_MS after.
   */
  async recoverLost(): Promise<number> {
    if (!this.spoolHost) return 0;
    const candidates = await this.segments.lostOnHost(this.spoolHost);
    const onDisk = new Map<string, Promise<boolean>>();
    const here = (file: string) => {
      let p = onDisk.get(file);
      if (!p) {
        p = SPOOL_FILE.test(file) ? fs.access(path.join(this.spoolDir, file)).then(() => true, () => false) : Promise.resolve(false);
        onDisk.set(file, p);
      }
      return p;
    };
    const recoverable: string[] = [];
    for (const c of candidates) {
      if (c.has_pcm || (await Promise.all(c.files.map(here))).some(Boolean)) recoverable.push(c.id);
    }
    if (recoverable.length === 0) return 0;
    const rows = await this.db.transaction(async (em) => {
      const reopened = await this.segments.reopenLost(recoverable, this.spoolHost, em);
      const bySession = new Map<string, LostSegment[]>();
      for (const r of reopened) pushTo(bySession, r.session_id, r);
      for (const [sessionId, segs] of bySession) {
        await this.events?.recordEvent(sessionId, { source: EventSource.Worker, eventType: 'media.recovered', payload: { reason: 'spool_host_back', ...segmentsPayload(segs) } }, em);
      }
      return reopened;
    });
    if (rows.length > 0) this.logger.warn(`Spool host ${this.spoolHost} is back: ${rows.length} audio segment(s) recorded as lost are written out from its spool (media.recovered)`);
    return rows.length;
  }

  /**
   * Removes this host's spool files that no part points at any more (their segments were
   * sealed, revoked or deleted with their session). Files written in the last minute are
   * kept: a flush may be between writing its bytes and committing its rows.
   */
  async removeUnusedSpoolFiles(inUse: string | null = null): Promise<number> {
    const names = (await fs.readdir(this.spoolDir).catch(() => [] as string[])).filter((f) => SPOOL_FILE.test(f) && f !== inUse);
    if (names.length === 0) return 0;
    const keep = await this.segments.spoolFilesInUse(names);
    let removed = 0;
    for (const name of names) {
      if (keep.has(name)) continue;
      const p = path.join(this.spoolDir, name);
      const st = await fs.stat(p).catch(() => null);
      if (st && Date.now() - st.mtimeMs > UNUSED_GRACE_MS) {
        await fs.unlink(p).catch(() => undefined);
        removed++;
      }
    }
    return removed;
  }
}

/** Appends to the list under `key` (a segment has hundreds of parts: no copy per part). */
function pushTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** PCM bytes of a segment's parts. */
function pcmBytes(parts: StoredPart[]): number {
  let n = 0;
  for (const p of parts) for (const l of p.packet_len) n += l;
  return n;
}

/** The longest prefix of `items` whose sizes add up to at most `max` — at least the first item. */
export function withinBytes<T>(items: T[], sizeOf: (item: T) => number, max: number): T[] {
  let total = 0;
  let n = 0;
  for (const item of items) {
    total += sizeOf(item);
    if (n > 0 && total > max) break;
    n++;
  }
  return items.slice(0, n);
}
