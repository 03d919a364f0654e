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
import { DropReason, MediaBatcher, MediaJobName, StreamIds } from './media-batcher';
import { MediaSpill } from './media-spill';

/** Drops are written to the session's timeline at most this often per stream and job. */
const DROP_RECORD_MS = 10_000;

/** The worker process's media batcher (media-batcher.ts), enqueueing on media-frames. */
@Injectable()
export class MediaBatchService implements OnApplicationShutdown {
  private readonly logger = new Logger(MediaBatchService.name);
  private readonly dropLog = new RateLimitedLog(this.logger);
  readonly batcher: MediaBatcher;
  /** Drops not yet on the sessions' timelines, by stream and job. */
  private readonly unrecorded = new Map<string, { ids: StreamIds; name: MediaJobName; items: number; reason: DropReason }>();
  private recordTimer: NodeJS.Timeout | null = null;

  constructor(
    producer: JobProducer,
    metrics: IngestMetrics,
    config: ConfigService<AppConfig, true>,
    holds: RecordingHolds,
    registry: MetricsService,
    private readonly events: SessionEventsService,
  ) {
    const ingest = config.get('rtms', { infer: true }).ingest;
    const spillDir = path.join(config.get('storage', { infer: true }).audioSpoolDir, 'media-spill');
    const spill = ingest.batchSpillMaxBytes > 0 ? new MediaSpill(spillDir, ingest.batchSpillMaxBytes) : null;
    const spilled = registry.counter({ name: 'rtms_hub_media_items_spilled_total', help: 'Media items moved to the local spill while the queue was unreachable', labelNames: ['job'] });
    const drained = registry.counter({ name: 'rtms_hub_media_items_unspilled_total', help: 'Spilled media items enqueued once the queue was back' });
    const dropped = registry.counter({
      name: 'rtms_hub_media_items_dropped_total',
      help: 'Media items dropped while the queue was unreachable: memory and spill budgets full (buffers_full), or still unqueued at shutdown (shutdown)',
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
          this.noteDrop(ids, name, n, reason);
        },
      },
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.batcher.close();
    await this.recordDrops();
    this.dropLog.flush();
  }

  /** The session's timeline says what it lost (`media.dropped`), summed up every DROP_RECORD_MS. */
  private noteDrop(ids: StreamIds, name: MediaJobName, items: number, reason: DropReason): void {
    const key = `${ids.rtmsStreamId}|${name}|${reason}`;
    const d = this.unrecorded.get(key) ?? { ids, name, items: 0, reason };
    d.items += items;
    this.unrecorded.set(key, d);
    if (!this.recordTimer) {
      this.recordTimer = setTimeout(() => void this.recordDrops(), DROP_RECORD_MS);
      this.recordTimer.unref();
    }
  }

  private async recordDrops(): Promise<void> {
    if (this.recordTimer) clearTimeout(this.recordTimer);
    this.recordTimer = null;
    const drops = [...this.unrecorded.values()];
    this.unrecorded.clear();
    for (const d of drops) {
      await this.events
        .recordEvent(d.ids.sessionId, { source: EventSource.Worker, eventType: 'media.dropped', rtmsStreamId: d.ids.rtmsStreamId, payload: { job: d.name, items: d.items, reason: d.reason } })
        .catch((err: unknown) => this.logger.warn(`Could not record dropped media of session ${d.ids.sessionId}: ${errorMessage(err)}`));
    }
  }
}
