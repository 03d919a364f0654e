import { WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DelayedError, Job, RateLimitError, UnrecoverableError, WaitingChildrenError, WaitingError } from 'bullmq';
import { AppConfig } from '../config/app.config';
import { QueueName } from './queue-names';
import { errorMessage } from '../common/errors/error-message';
import { isRedisConnectionError, redisOutage } from '../common/logging/redis-outage-log';
import { keepAsking } from '../common/redis/keep-asking';
import type Redis from 'ioredis';

/**
 * How long a worker waits before retrying a fetch, or the completion or failure of a job,
 * that hit a Redis connection error (BullMQ's `runRetryDelay`, 15 s by default). The
 * connections reconnect on their own (backing off up to 2 s: redis-factory.ts); with the
 * default a worker whose fetch failed during a short outage or a Sentinel failover sat
 * idle for 15 s after Redis was back, its streams and media waiting.
 */
export const WORKER_RUN_RETRY_DELAY_MS = 1000;

/**
 * Base of every processor: concurrency from validated config, one log line per job
 * start/end with its duration, errors reported and rethrown (never swallowed), and a
 * hook for the last failure so the domain row can be marked failed.
 */
export abstract class QueueProcessor extends WorkerHost implements OnApplicationBootstrap {
  protected abstract readonly queueName: QueueName;
  protected readonly logger = new Logger(this.constructor.name);

  @Inject(ConfigService)
  private readonly configService: ConfigService<AppConfig, true>;

  onApplicationBootstrap(): void {
    const concurrency = this.configService.get('queues', { infer: true }).concurrency[this.queueName];
    this.worker.concurrency = concurrency;
    // Read by BullMQ at each retry; @Processor options cannot carry it for every processor at once.
    this.worker.opts.runRetryDelay = WORKER_RUN_RETRY_DELAY_MS;
    this.worker.on('error', (err) => {
      // Redis unreachable: one line per outage for the whole process (redis-outage-log.ts).
      if (isRedisConnectionError(err.message)) redisOutage.failed(this.worker, err.message);
      else this.logger.error(`Worker error on ${this.queueName}: ${err.message}`);
    });
    // Emitted when the worker's blocking connection is (re)connected.
    this.worker.on('ready', () => redisOutage.ready(this.worker));
    // Its command connection may idle between jobs: it finds a frozen primary on its own
    // (keep-asking.ts). The blocking one has BullMQ's own watchdog.
    const socketTimeoutMs = this.configService.get('redis', { infer: true })?.socketTimeoutMs ?? 0;
    this.worker.client.then(
      (client) => keepAsking(client as unknown as Redis, socketTimeoutMs),
      () => undefined,
    );
    this.worker.on('failed', (job, err) => {
      if (!job) return;
      const attempts = job.opts.attempts ?? 1;
      const final = err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || job.attemptsMade >= attempts;
      if (!final) return;
      this.logger.error(`Job ${job.name} ${job.id} failed permanently after ${job.attemptsMade} attempt(s): ${err.message}`);
      void Promise.resolve(this.onFinalFailure(job, err)).catch((hookErr: unknown) =>
        this.logger.error(`onFinalFailure for ${job.name} ${job.id} threw: ${String(hookErr)}`),
      );
    });
    this.logger.log(`Consuming ${this.queueName} with concurrency ${concurrency}`);
  }

  async process(job: Job): Promise<unknown> {
    const started = Date.now();
    this.logger.debug(`Job ${job.name} ${job.id} started (attempt ${job.attemptsMade + 1})`);
    try {
      const result = await this.handle(job);
      this.logger.log(`Job ${job.name} ${job.id} done in ${Date.now() - started} ms`);
      return result;
    } catch (err) {
      if (isJobMovedSignal(err)) {
        // Not a failure: the job moved itself back to delayed/wait (429 Retry-After, hand-over).
        this.logger.debug(`Job ${job.name} ${job.id} deferred after ${Date.now() - started} ms (${(err as Error).name})`);
        throw err;
      }
      const message = errorMessage(err);
      this.logger.warn(`Job ${job.name} ${job.id} failed in ${Date.now() - started} ms: ${message}`);
      throw err;
    }
  }

  /** switch (job.name) exhaustively and delegate to a service. */
  protected abstract handle(job: Job): Promise<unknown>;

  /** Called once when a job will not be retried again. */
  protected onFinalFailure(_job: Job, _err: Error): void | Promise<void> {}
}

/** BullMQ's control-flow errors: the job was moved on purpose, not failed. */
export function isJobMovedSignal(err: unknown): boolean {
  return err instanceof DelayedError || err instanceof WaitingError || err instanceof WaitingChildrenError || err instanceof RateLimitError;
}

/**
 * Puts the running job back to delayed until `at` without using an attempt (e.g. Zoom's
 * Retry-After). Call it last in a handler: it always throws BullMQ's DelayedError.
 */
export async function deferJobUntil(job: Job, at: Date | number): Promise<never> {
  await job.moveToDelayed(typeof at === 'number' ? at : at.getTime(), job.token);
  throw new DelayedError();
}

/**
 * Exhaustiveness guard for `switch (job.name)` over a QueueJob union. Pass what the
 * switch narrowed to `never` in its default branch: the job where the queue has several
 * jobs, `job.name` where it has one. A job of the queue without a case then does not
 * compile. At run time (a job name from a newer release, say) the job fails for good.
 */
export function unknownJob(jobOrName: never): never {
  const name = typeof jobOrName === 'object' && jobOrName !== null ? (jobOrName as { name?: unknown }).name : jobOrName;
  throw new UnrecoverableError(`No handler for job "${String(name)}"`);
}
