import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../../config/app.config';
import { JobProducer } from '../../../jobs/job-producer.service';
import { IngestMetrics } from '../ingest-metrics';
import { MediaBatcher } from './media-batcher';

/** The worker process's media batcher (media-batcher.ts), enqueueing on media-frames. */
@Injectable()
export class MediaBatchService implements OnApplicationShutdown {
  readonly batcher: MediaBatcher;

  constructor(producer: JobProducer, metrics: IngestMetrics, config: ConfigService<AppConfig, true>) {
    const ingest = config.get('rtms', { infer: true }).ingest;
    this.batcher = new MediaBatcher(
      {
        enqueueBatches: async (name, batches) => {
          await producer.enqueueBulk(name, batches.map((data) => ({ data })));
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
