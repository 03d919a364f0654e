import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import type { Gauge } from 'prom-client';
import { withTimeout } from '../../../common/async/with-timeout';
import { PeriodicTask } from '../../../common/async/periodic-task';
import type { ReadinessCheckResult } from '../../../common/health/readiness-checks';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';
import { JobProducer } from '../../../jobs/job-producer.service';
import { QueueName } from '../../../jobs/queue-names';
import { MEDIA_STORAGE, MediaStorage } from './media-storage';
import { isStorageUnavailable, storageErrorSummary } from './storage-errors';
import { PendingTotals, StoragePendingLedger } from './storage-pending';

/** Objects of the readiness write probe live here, apart from every session's folder (session folders never start with a dot). */
export const PROBE_PREFIX = '.rtms-hub-health/';

const KIND_WORDS: Record<string, string> = {
  video_frame: 'video frames',
  share_frame: 'screen-share frames',
  video_segment: 'video segments',
  share_segment: 'screen-share segments',
  chat: 'chat messages',
  transcript: 'transcript lines',
};
const KNOWN_KINDS = ['video_frame', 'share_frame', 'video_segment', 'share_segment', 'chat'];

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(1)} GB`;
}

/** "120 video frames, 3 chat messages (1.2 MB)". */
export function describePending(t: Pick<PendingTotals, 'items' | 'bytes'>): string {
  const parts = Object.entries(t.items)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${n} ${KIND_WORDS[kind] ?? kind}`);
  return `${parts.join(', ') || 'nothing'} (${formatBytes(t.bytes)})`;
}

const PROBE_TIMEOUT_MS = 3000;

interface ProbeState {
  up: boolean;
  at: number;
  /** Since when this process has seen storage down (null while up). */
  downSince: number | null;
  error: string | null;
}

/**
 * How storage is doing, as this process sees it and for the whole hub: a cached write
 * probe (readiness, `rtms_hub_storage_up`), what waits for storage (the pending ledger:
 * readiness, `rtms_hub_storage_pending_{items,bytes}`), and one log line per interval for
 * the whole hub while anything waits — never one per failed job.
 */
@Injectable()
export class StorageHealth extends PeriodicTask {
  private readonly logger = new Logger('StorageHealth');
  protected readonly intervalMs: number;
  private readonly cacheMs: number;
  private readonly logLockKey: string;
  private readonly probeName = `${hostname().replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40)}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private state: ProbeState | null = null;
  private probing?: Promise<ProbeState>;
  /** The ledger read of the last second, shared by concurrent callers (a scrape reads both pending gauges at once). */
  private pendingCache?: { at: number; totals: Promise<PendingTotals> };
  /** This process logged an outage: it says when the wait is over. */
  private reportedOutage = false;
  private readonly upGauge: Gauge;

  constructor(
    @Inject(MEDIA_STORAGE) private readonly storage: MediaStorage,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly ledger: StoragePendingLedger,
    private readonly producer: JobProducer,
    config: ConfigService<AppConfig, true>,
    metrics: MetricsService,
  ) {
    super();
    const s = config.get('storage', { infer: true });
    this.intervalMs = s.outageLogIntervalMs;
    this.cacheMs = s.probeCacheMs;
    this.logLockKey = `${config.get('queues', { infer: true }).prefix}:storage-outage-log`;
    this.upGauge = metrics.gauge({
      name: 'rtms_hub_storage_up',
      help: "1 when this process's last storage write (probe or save) succeeded, 0 when storage was unavailable",
    });
    const pending = () => this.pending().catch(() => null);
    metrics.gauge({
      name: 'rtms_hub_storage_pending_items',
      help: 'Media items waiting for storage (whole hub), by kind',
      labelNames: ['kind'],
      async collect() {
        const t = await pending();
        if (!t) return;
        this.reset();
        for (const kind of new Set([...KNOWN_KINDS, ...Object.keys(t.items)])) this.set({ kind }, t.items[kind] ?? 0);
      },
    });
    metrics.gauge({
      name: 'rtms_hub_storage_pending_bytes',
      help: 'Bytes of media waiting for storage (whole hub, in Redis job payloads), by kind',
      labelNames: ['kind'],
      async collect() {
        const t = await pending();
        if (!t) return;
        this.reset();
        for (const kind of new Set([...KNOWN_KINDS, ...Object.keys(t.bytesByKind)])) this.set({ kind }, t.bytesByKind[kind] ?? 0);
      },
    });
  }

  private setState(up: boolean, error: string | null): ProbeState {
    const now = Date.now();
    const downSince = up ? null : (this.state?.downSince ?? now);
    if (this.state && this.state.up !== up) {
      if (up) this.logger.log(`Storage (${this.storage.driver}) is available again after ${Math.round((now - (this.state.downSince ?? now)) / 1000)} s`);
      else this.logger.warn(`Storage (${this.storage.driver}) is unavailable: ${error}`);
    }
    this.state = { up, at: now, downSince, error };
    this.upGauge.set(up ? 1 : 0);
    return this.state;
  }

  /** A saver found storage unavailable: readiness says so at once, without waiting for the probe. */
  noteUnavailable(err: unknown): void {
    if (!this.state || this.state.up) this.setState(false, storageErrorSummary(err));
    else this.state = { ...this.state, at: Date.now(), error: storageErrorSummary(err) };
  }

  /** A saver wrote to storage. */
  noteWritten(): void {
    if (this.state && !this.state.up) this.setState(true, null);
  }

  /**
   * At boot: the storage location (directory, or bucket + prefix) must take a write and a
   * delete — the retention sweep deletes there. Failing, the process still starts (storage
   * outages are waited out, never fatal) but says so clearly once, and /health/ready
   * reports storage down until a write succeeds.
   */
  async checkAtBoot(): Promise<boolean> {
    const state = await this.probe();
    const where = this.storage.locate(`${PROBE_PREFIX}probe`).replace(/\/?\.rtms-hub-health\/probe$/, '') || '.';
    if (state.up) this.logger.log(`Storage (${this.storage.driver}) at ${where} takes writes and deletes`);
    else
      this.logger.error(
        `Storage (${this.storage.driver}) at ${where} cannot be written and deleted at boot: ${state.error ?? 'no detail'}. ` +
          'Check STORAGE_DRIVER, STORAGE_LOCAL_DIR or S3_* and the bucket policy (PutObject and DeleteObject under the prefix); ' +
          '/health/ready reports storage down until a write succeeds.',
      );
    return state.up;
  }

  /** Write + delete a small object under PROBE_PREFIX, at most once per STORAGE_PROBE_CACHE_MS. */
  async probe(): Promise<ProbeState> {
    if (this.state && Date.now() - this.state.at < this.cacheMs) return this.state;
    this.probing ??= this.runProbe().finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async runProbe(): Promise<ProbeState> {
    const key = `${PROBE_PREFIX}probe-${this.probeName}`;
    try {
      // A store that does not answer (S3 behind a black hole) must not hang readiness.
      await withTimeout(
        (async () => {
          await this.storage.put(key, Buffer.from(new Date().toISOString()), 'text/plain');
          await this.storage.delete(key);
        })(),
        PROBE_TIMEOUT_MS,
        `storage did not answer the probe within ${PROBE_TIMEOUT_MS} ms`,
      );
      return this.setState(true, null);
    } catch (err) {
      // A probe that fails for another reason (a bug) still says storage cannot be written.
      return this.setState(false, storageErrorSummary(err) + (isStorageUnavailable(err) ? '' : ' (unclassified)'));
    }
  }

  /** The ledger's totals, reused for a second (metrics and readiness read it together). */
  async pending(): Promise<PendingTotals> {
    if (this.pendingCache && Date.now() - this.pendingCache.at < 1000) return this.pendingCache.totals;
    const cache = { at: Date.now(), totals: this.ledger.totals() };
    this.pendingCache = cache;
    // A failed read is not kept: the next caller asks Redis again.
    cache.totals.catch(() => {
      if (this.pendingCache === cache) this.pendingCache = undefined;
    });
    return cache.totals;
  }

  /** The storage entry of /health/ready. */
  async readiness(): Promise<ReadinessCheckResult> {
    const [probe, pending] = await Promise.all([this.probe(), withTimeout(this.pending(), 1000, 'no answer from Redis').catch(() => null)]);
    return {
      status: probe.up ? 'up' : 'down',
      driver: this.storage.driver,
      ...(probe.up ? {} : { down_since: new Date(probe.downSince ?? probe.at).toISOString(), message: probe.error }),
      waiting: pending
        ? { items: pending.items, bytes: pending.bytes, batches: pending.jobs, oldest_failure_at: pending.since ? new Date(pending.since).toISOString() : null }
        : null,
    };
  }

  protected async tick(): Promise<void> {
    try {
      const totals = await this.ledger.totals();
      this.pendingCache = { at: Date.now(), totals: Promise.resolve(totals) };
      if (totals.jobs === 0) {
        if (this.reportedOutage) this.logger.log('Storage has caught up: no media waits for it any more');
        this.reportedOutage = false;
        return;
      }
      const probe = await this.probe();
      // One process of the hub says it (and tidies the ledger) per interval.
      const mine = await this.redis.set(this.logLockKey, process.pid, 'PX', Math.max(100, this.intervalMs - 50), 'NX');
      if (mine !== 'OK') return;
      this.reportedOutage = true;
      await this.sweep();
      const secs = Math.round((Date.now() - (totals.since ?? Date.now())) / 1000);
      const what = describePending(totals);
      if (probe.up) this.logger.warn(`storage available again, catching up: ${what} still waiting (oldest failure ${secs} s ago)`);
      else this.logger.warn(`storage unavailable for ${secs} s: ${what} waiting (${probe.error ?? 'no detail'})`);
    } catch (err) {
      this.logger.warn(`Storage outage check failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * Entries whose job is gone (removed by hand in Bull Board, obliterated) or finished
   * would count as waiting forever: they go.
   */
  private async sweep(): Promise<void> {
    const entries = await this.ledger.entries();
    const queue = this.producer.queue(QueueName.MediaFrames);
    for (const [id] of entries) {
      const state = await queue.getJobState(id);
      if (state === 'unknown' || state === 'completed' || state === 'failed') await this.ledger.remove(id);
    }
  }
}
