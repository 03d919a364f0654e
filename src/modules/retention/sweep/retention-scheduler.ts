import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../../config/app.config';
import { JobName } from '../../../jobs/job-names';
import { JobProducer } from '../../../jobs/job-producer.service';

/** Id of the sweep's job scheduler (BullMQ keeps one schedule per id, however many workers upsert it). */
export const RETENTION_SWEEP_SCHEDULER_ID = 'retention-sweep';

/**
 * Schedules the repeatable retention sweep (every RETENTION_SWEEP_INTERVAL_SEC) when a
 * process that consumes `maintenance` boots. Upserting is idempotent: every worker does it
 * and there is still one schedule; a changed interval replaces it.
 */
@Injectable()
export class RetentionScheduler implements OnApplicationBootstrap {
  private readonly logger = new Logger(RetentionScheduler.name);

  constructor(
    private readonly producer: JobProducer,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const every = this.config.get('retention', { infer: true }).sweepIntervalMs;
    const queues = this.config.get('queues', { infer: true });
    await this.producer.queueFor(JobName.RetentionSweep).upsertJobScheduler(
      RETENTION_SWEEP_SCHEDULER_ID,
      { every },
      {
        name: JobName.RetentionSweep,
        data: { trigger: 'schedule' },
        // The next tick is the retry: a failed sweep is not run again at once.
        opts: { attempts: 1, removeOnComplete: { age: 24 * 3600, count: queues.keepCompleted }, removeOnFail: { age: 7 * 24 * 3600, count: queues.keepFailed } },
      },
    );
    this.logger.log(`Retention sweep scheduled every ${every / 1000} s`);
  }
}
