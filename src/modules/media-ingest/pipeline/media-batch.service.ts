import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { errorMessage } from '../../../common/errors/error-message';
import { RateLimitedLog } from '../../../common/logging/rate-limited-log';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { AppConfig } from '../../../config/app.config';
import { JobProducer } from '../../../jobs/job-producer.service';
import { EventSource, SessionEventsService } from '../../sessions';
import { IngestMetrics } from '../ingest-metrics';
import { RecordingHolds } from '../recording/recording-holds';
import { MediaBatcher, StreamIds } from './media-batcher';
import { MediaSpill } from './media-spill';

/** Drops and recoveries are written to the session's timeline at most this often per stream and job. */
const DROP_RECORD_MS = 10_000;
/**
 * At shutdown the timeline entries still to write get this long (as stream observations,
 * docs/operations.md), within SHUTDOWN_TIMEOUT_MS; what is left is logged, not waited for.
 */
const SHUTDOWN_RECORD_MS = 3000;

/** A timeline entry being summed up: what happened to how many items of a stream. */
interface Unrecorded {
  ids: StreamIds;
  eventType: 'media.dropped' | 'media.deferred' | 'media.recovered';
  payload: Record<string, string>;
  items: number;
}

/** The worker process's media batcher (media-batcher.ts), enqueueing on media-frames. */
@Injectable()
export class MediaBatchService implements OnApplicationShutdown {
  private readonly logger = new Logger(MediaBatchService.name);
  private readonly dropLog = new RateLimitedLog(this.logger);
  readonly batcher: MediaBatcher;
  /** Drops, deferrals and recoveries not yet on the sessions' timelines, by stream, event and job. */
  private readonly unrecorded = new Map<string, Unrecorded>();
  private recordTimer: NodeJS.Timeout | null = null;
  /** Entries taken to be written and not written yet (Postgres slow or away). */
  private readonly writing = new Set<Unrecorded>();
  /** The writes, one batch after another (a batch waits for the one before). */
  private recording: Promise<void> = Promise.resolve();

  constructor(
    producer: JobProducer,
    metrics: IngestMetrics,
    config: ConfigService<AppConfig, true>,
    holds: RecordingHolds,
    registry: MetricsService,
    private readonly events: SessionEventsService,
  ) {
    const ingest = config.get('rtms', { infer: true }).ingest;
    const storage = config.get('storage', { infer: true });
    const spillDir = path.join(storage.audioSpoolDir, 'media-spill');
    const spill = ingest.batchSpillMaxBytes > 0 ? new MediaSpill(spillDir, ingest.batchSpillMaxBytes) : null;
    const spilled = registry.counter({ name: 'rtms_hub_media_items_spilled_total', help: 'Media items moved to the local spill while the queue was unreachable', labelNames: ['job'] });
    const drained = registry.counter({ name: 'rtms_hub_media_items_unspilled_total', help: 'Spilled media items enqueued once the queue was back' });
    const adopted = registry.counter({ name: 'rtms_hub_media_spill_files_adopted_total', help: 'Media spill files of worker processes gone (killed, or shut down while Redis was down) taken over by this one' });
    const deferred = registry.counter({ name: 'rtms_hub_media_items_deferred_total', help: 'Media items left in the spill at shutdown, for the next worker process on the host' });
    const dropped = registry.counter({
      name: 'rtms_hub_media_items_dropped_total',
      help: 'Media items dropped: memory and spill budgets full while the queue was unreachable (buffers_full), still unqueued at shutdown (shutdown), spilled more than a day ago (spill_expired), or in a spill file that could not be read (spill_unreadable)',
      labelNames: ['job', 'reason'],
    });
    this.batcher = new MediaBatcher(
      {
        enqueueBatches: async (name, batches) => {
          // Each batch holds its sessions' recording (not ready) until its saver is done
          // with it: held before it is queued, so a fast saver cannot release it first.
          const named = batches.map((b) => ({ ...b, batchId: randomUUID() }));
          await Promise.all(named.map((b) => holds.add(b.streams.map((s) => s.sessionId), `batch:${b.batchId}`)));
          try {
            await producer.enqueueBulk(name, named.map((data) => ({ data })));
          } catch (err) {
            // Not queued: the batcher retries these items under new batch ids.
            await Promise.all(named.map((b) => holds.release(b.streams.map((s) => s.sessionId), `batch:${b.batchId}`))).catch(() => undefined);
            throw err;
          }
          metrics.batches.inc({ job: name }, batches.length);
        },
      },
      { maxItems: ingest.batchMaxItems, maxBytes: ingest.batchMaxBytes, flushMs: ingest.batchFlushMs, maxBufferedBytes: ingest.batchMaxBufferedBytes },
      spill,
      {
        spilled: (name, n) => {
          spilled.inc({ job: name }, n);
          this.dropLog.warn(`spill ${name}`, `Queue unreachable: ${n} ${name} item(s) spilled to ${spillDir} (${this.batcher.spilledBytes} bytes spilled)`);
        },
        drained: (n) => drained.inc(n),
        dropped: (ids, name, n, reason) => {
          dropped.inc({ job: name, reason }, n);
          if (reason === 'buffers_full') this.dropLog.error(`drop ${name}`, `Queue unreachable and media buffers full: dropped ${n} ${name} item(s) of stream ${ids.rtmsStreamId}`);
          this.note(ids, 'media.dropped', { job: name, reason }, n);
        },
        deferred: (ids, n) => {
          deferred.inc(n);
          this.note(ids, 'media.deferred', { reason: 'shutdown', spool_host: storage.spoolHost }, n);
        },
        adopted: (files) => adopted.inc(files),
        recovered: (ids, name, n) => this.note(ids, 'media.recovered', { job: name, from: 'spill' }, n),
      },
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.batcher.close();
    // Bounded: with Postgres unreachable an insert can hang until the shutdown timeout kills
    // the process, and these entries would be lost without a word.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_RECORD_MS)));
    await Promise.race([this.recordDrops(), late]);
    clearTimeout(timer);
    if (this.writing.size > 0) {
      const left = [...this.writing];
      const sessions = [...new Set(left.map((d) => d.ids.sessionId))];
      const what = [...new Set(left.map((d) => d.eventType))].join('/');
      const items = left.reduce((a, d) => a + d.items, 0);
      this.logger.error(
        `Shutting down with ${left.length} media timeline event(s) (${what}, ${items} item(s)) not written (Postgres unreachable) for session(s) ${sessions.slice(0, 20).join(', ')}${sessions.length > 20 ? ` and ${sessions.length - 20} more` : ''}`,
      );
    }
    this.dropLog.flush();
  }

  /**
   * The session's timeline says what it lost (`media.dropped`), what waits in a spill at
   * shutdown (`media.deferred`) and what a later process enqueued from one
   * (`media.recovered`), summed up every DROP_RECORD_MS.
   */
  private note(ids: StreamIds, eventType: Unrecorded['eventType'], payload: Record<string, string>, items: number): void {
    const key = `${ids.rtmsStreamId}|${eventType}|${JSON.stringify(payload)}`;
    const d = this.unrecorded.get(key) ?? { ids, eventType, payload, items: 0 };
    d.items += items;
    this.unrecorded.set(key, d);
    if (!this.recordTimer) {
      this.recordTimer = setTimeout(() => void this.recordDrops(), DROP_RECORD_MS);
      this.recordTimer.unref();
    }
  }

  /** Writes what is noted so far, after the writes before it; resolves once they are written. */
  private recordDrops(): Promise<void> {
    if (this.recordTimer) clearTimeout(this.recordTimer);
    this.recordTimer = null;
    const drops = [...this.unrecorded.values()];
    this.unrecorded.clear();
    for (const d of drops) this.writing.add(d);
    this.recording = this.recording.then(async () => {
      for (const d of drops) {
        await this.events
          .recordEvent(d.ids.sessionId, { source: EventSource.Worker, eventType: d.eventType, rtmsStreamId: d.ids.rtmsStreamId, payload: { ...d.payload, items: d.items } })
          .catch((err: unknown) => this.logger.warn(`Could not record ${d.eventType} of session ${d.ids.sessionId}: ${errorMessage(err)}`));
        this.writing.delete(d);
      }
    });
    return this.recording;
  }
}
