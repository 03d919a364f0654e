import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { AppConfig } from '../../../config/app.config';
import { AudioSegmentWriter } from './audio-segment-writer';
import { SessionsService } from '../../sessions';
import { errorMessage } from '../../../common/errors/error-message';
import { AudioSpool, AudioSpoolStream } from './audio-spool';
import type { AudioStreamInfo, WrittenParts } from './audio-spool.ports';
import { SpooledAudioStore } from './audio-spool.store';
import { SpoolFiles } from './spool-files';

/** Segments written out per transaction, one transaction at a time. */
const WRITE_BATCH = 16;
/**
 * Segment windows are aligned to Zoom's clock, so every participant of every stream
 * completes a segment at the same moment. Each write is delayed by a random share of the
 * spread the spool asks for (at most this), so the work does not land on the event loop
 * and the database at once.
 */
const MAX_WRITE_SPREAD_MS = 3000;
const ORPHAN_SWEEP_MS = 60_000;

/**
 * The stream worker's audio spool (audio-spool.ts), wired to its local spool files,
 * Postgres, the segment writer and the metrics. Complete segments are written out here,
 * on the host that spooled them; a sweep writes out idle ones (also those of a crashed
 * process on this host) and seals old ones.
 */
@Injectable()
export class AudioSpoolService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AudioSpoolService.name);
  private readonly spool: AudioSpool;
  private readonly store: SpooledAudioStore;
  private readonly toWrite = new Map<string, WrittenParts>();
  private readonly scheduled = new Map<string, { timer: NodeJS.Timeout; parts: WrittenParts }>();
  private writing = 0;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: (() => void) | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private orphanSweeper: NodeJS.Timeout | null = null;
  private sweeping = false;
  private closed = false;
  private closing = false;
  private readonly idleMs: number;
  private readonly writeFailures;

  constructor(
    @InjectDataSource() db: DataSource,
    private readonly writer: AudioSegmentWriter,
    metrics: MetricsService,
    config: ConfigService<AppConfig, true>,
    sessions: SessionsService,
  ) {
    const ingest = config.get('rtms', { infer: true }).ingest;
    this.idleMs = config.get('storage', { infer: true }).audioIdleFinalizeMs;
    const saved = metrics.counter({ name: 'rtms_hub_media_saved_total', help: 'Media items saved', labelNames: ['kind'] }).labels('audio');
    const latency = metrics
      .histogram({ name: 'rtms_hub_media_save_latency_seconds', help: 'Receive-to-storage latency', labelNames: ['kind'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] })
      .labels('audio');
    const discarded = metrics.counter({ name: 'rtms_hub_audio_discarded_total', help: 'Audio packets that will not be stored, by reason', labelNames: ['reason'] });
    const late = metrics.counter({ name: 'rtms_hub_audio_late_packets_total', help: 'Audio packets that arrived after their segment was sealed' });
    const failures = metrics.counter({ name: 'rtms_hub_audio_spool_flush_failures_total', help: 'Audio spool writes that failed (retried)' });
    this.writeFailures = metrics.counter({ name: 'rtms_hub_audio_segment_write_failures_total', help: 'Audio segments whose WAV could not be written (the sweep retries)' });
    const flushSeconds = metrics.histogram({ name: 'rtms_hub_audio_spool_flush_seconds', help: 'Duration of one audio spool write (all streams of the process)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
    const flushPackets = metrics.histogram({ name: 'rtms_hub_audio_spool_flush_packets', help: 'Audio packets per spool write', buckets: [10, 50, 100, 250, 500, 1000, 2500, 5000, 10000] });
    let failuresLogged = 0;
    this.store = new SpooledAudioStore(db, new SpoolFiles(writer.spoolDir), writer.spoolHost, (ids) => sessions.existingIds(ids));
    this.spool = new AudioSpool(
      this.store,
      {
        segmentsDue: async (segments) => this.write(segments),
        saved: (packets, now) => {
          saved.inc(packets.length);
          for (const p of packets) latency.observe(Math.max(0, now - p.receivedAt) / 1000);
        },
        discarded: (reason, n) => discarded.inc({ reason }, n),
        late: (n) => late.inc(n),
        flushed: (ms, packets) => {
          flushSeconds.observe(ms / 1000);
          flushPackets.observe(packets);
        },
        flushFailed: (err) => {
          failures.inc();
          if (failuresLogged++ % 50 === 0) this.logger.warn(`Audio spool write failed (${this.spool.bufferedBytes} bytes waiting; retrying): ${errorMessage(err)}`);
        },
      },
      {
        flushMs: ingest.audioFlushMs,
        flushBytes: 8 * 1024 * 1024,
        maxBufferedBytes: ingest.audioSpoolMaxBytes,
        // Often enough that the idle sweep never takes a live segment, rarely enough to keep
        // updates of audio_segments (each a new row version and index entries) few.
        touchEveryMs: Math.max(100, Math.floor(this.idleMs / 2)),
        cacheIdleMs: this.idleMs,
        cacheMaxBytes: ingest.audioCacheMaxBytes,
      },
    );
    const spool = this.spool;
    metrics.gauge({
      name: 'rtms_hub_audio_spool_bytes',
      help: 'PCM waiting in this process for its spool write',
      collect(this: Gauge) {
        this.set(spool.bufferedBytes);
      },
    });
    metrics.gauge({
      name: 'rtms_hub_audio_segment_cache_bytes',
      help: 'PCM of open segments kept in memory to write their WAV without reading the spool file',
      collect(this: Gauge) {
        this.set(spool.cachedPcmBytes);
      },
    });
  }

  onApplicationBootstrap(): void {
    this.sweeper = setInterval(() => void this.sweep(), Math.max(250, Math.floor(this.idleMs / 2)));
    this.sweeper.unref();
    this.orphanSweeper = setInterval(() => void this.writer.removeUnusedSpoolFiles(this.store.currentFile).catch((err: unknown) => this.logger.warn(`Spool orphan sweep: ${errorMessage(err)}`)), ORPHAN_SWEEP_MS);
    this.orphanSweeper.unref();
  }

  open(info: AudioStreamInfo): AudioSpoolStream {
    return this.spool.open(info);
  }

  /** Every segment handed over so far is written (or failed, for the sweep to retry). */
  async drained(): Promise<void> {
    this.writeScheduledNow();
    while (this.toWrite.size > 0 || this.writing > 0) await this.idle;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.orphanSweeper) clearInterval(this.orphanSweeper);
    this.closing = true;
    await this.spool.close();
    await this.drained();
    this.closed = true;
    await this.store.close();
  }

  /** Complete segments are written out in batches, off the flush path, spread out in time. */
  private write(segments: Array<{ id: string; parts: WrittenParts; spreadMs: number }>): void {
    if (this.closing) {
      for (const s of segments) this.toWrite.set(s.id, s.parts);
      this.pump();
      return;
    }
    for (const s of segments) {
      const timer = setTimeout(() => {
        this.scheduled.delete(s.id);
        this.toWrite.set(s.id, s.parts);
        this.pump();
      }, Math.floor(Math.random() * Math.min(s.spreadMs, MAX_WRITE_SPREAD_MS)));
      this.scheduled.set(s.id, { timer, parts: s.parts });
    }
  }

  /** Shutdown: what was scheduled is written now. */
  private writeScheduledNow(): void {
    for (const [id, s] of this.scheduled) {
      clearTimeout(s.timer);
      this.toWrite.set(id, s.parts);
    }
    this.scheduled.clear();
    this.pump();
  }

  private pump(): void {
    if (this.writing === 0 && this.toWrite.size > 0 && !this.markIdle) this.idle = new Promise((r) => (this.markIdle = r));
    if (this.writing === 0 && this.toWrite.size > 0 && !this.closed) {
      const batch = [...this.toWrite.entries()].slice(0, WRITE_BATCH).map(([id, written]) => ({ id, written }));
      for (const b of batch) this.toWrite.delete(b.id);
      this.writing++;
      void this.writer
        .finalizeSegments(batch)
        .catch((err: unknown) => {
          // Not lost: the segments stay open and the sweep writes them out when idle.
          this.writeFailures.inc(batch.length);
          this.logger.warn(`${batch.length} audio segment(s) could not be written yet: ${errorMessage(err)}`);
        })
        .finally(() => {
          this.writing--;
          this.pump();
        });
    }
    if (this.writing === 0 && this.toWrite.size === 0 && this.markIdle) {
      this.markIdle();
      this.markIdle = null;
    }
  }

  private async sweep(): Promise<void> {
    if (this.sweeping || this.closed) return;
    this.sweeping = true;
    try {
      await this.writer.sweep(this.idleMs);
    } catch (err) {
      this.logger.warn(`Audio segment sweep failed: ${errorMessage(err)}`);
    } finally {
      this.sweeping = false;
    }
  }
}
