import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { errorMessage } from '../../../common/errors/error-message';
import { isRedisConnectionError, redisOutage } from '../../../common/logging/redis-outage-log';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../../config/app.config';
import { JobName } from '../../../jobs/job-names';
import { JobProducer } from '../../../jobs/job-producer.service';

/** Id of the sweep's job scheduler (BullMQ keeps one schedule per id, however many workers upsert it). */
export const RETENTION_SWEEP_SCHEDULER_ID = 'retention-sweep';

const RETRY_MS = 5000;

/**
 * Schedules the repeatable retention sweep (every RETENTION_SWEEP_INTERVAL_SEC) when a
 * process that consumes `maintenance` boots. Upserting is idempotent: every worker does it
 * and there is still one schedule; a changed interval replaces it. Boot does not wait for
 * it: with Redis unreachable the worker starts anyway and the upsert is retried until it
 * lands.
 */
@Injectable()
export class RetentionScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RetentionScheduler.name);
  private retry?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly producer: JobProducer,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  onApplicationBootstrap(): void {
    void this.scheduleUntilDone();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.retry);
  }

  private async scheduleUntilDone(): Promise<void> {
    try {
      await this.schedule();
    } catch (err) {
      if (this.stopped) return;
      const message = errorMessage(err);
      // Redis being down is the outage log's to report; anything else is this scheduler's.
      if (isRedisConnectionError(message)) redisOutage.failed(undefined, message);
      else this.logger.warn(`Could not schedule the retention sweep (retrying in ${RETRY_MS / 1000} s): ${message}`);
      this.retry = setTimeout(() => void this.scheduleUntilDone(), RETRY_MS);
      this.retry.unref();
    }
  }

  async schedule(): Promise<void> {
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
