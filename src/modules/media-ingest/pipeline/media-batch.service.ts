import { randomUUID } from 'node:crypto';
import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../../config/app.config';
import { JobProducer } from '../../../jobs/job-producer.service';
import { IngestMetrics } from '../ingest-metrics';
import { RecordingHolds } from '../recording/recording-holds';
import { MediaBatcher } from './media-batcher';

/** The worker process's media batcher (media-batcher.ts), enqueueing on media-frames. */
@Injectable()
export class MediaBatchService implements OnApplicationShutdown {
  readonly batcher: MediaBatcher;

  constructor(producer: JobProducer, metrics: IngestMetrics, config: ConfigService<AppConfig, true>, holds: RecordingHolds) {
    const ingest = config.get('rtms', { infer: true }).ingest;
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
      { maxItems: ingest.batchMaxItems, maxBytes: ingest.batchMaxBytes, flushMs: ingest.batchFlushMs },
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.batcher.close();
  }
}
