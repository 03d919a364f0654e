import { Processor } from '@nestjs/bullmq';
import { BeforeApplicationShutdown } from '@nestjs/common';
import { Job, WaitingError } from 'bullmq';
import { errorMessage } from '../../common/errors/error-message';
import { JobName } from '../../jobs/job-names';
import { QueueJob, RecordingComposePayload } from '../../jobs/job-payloads';
import { QueueName } from '../../jobs/queue-names';
import { deferJobUntil, QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { ComposeFailure, ComposeInterrupted } from './compose/compose-errors';
import { RecordingComposer } from './compose/recording-composer.service';

/** How long a composition waits when another run of its session holds the lease (compose-lease.ts). */
export const COMPOSE_BUSY_RETRY_MS = 15_000;

/**
 * Times a composition's lease may be lost and the job put back without using an attempt.
 * A run that loses it every time (its process stalls past the lease on this session) would
 * otherwise be put back forever; past this, each loss uses an attempt, and the last one
 * announces the failure. Counted in the job's progress (`{ leaseLost: n }`), which
 * survives the moves back to delayed.
 */
export const COMPOSE_LEASE_LOST_FREE_DEFERRALS = 5;

/**
 * `media-compose` queue: builds recording.mp4 (CPU-heavy: its own workers, concurrency
 * CONCURRENCY_MEDIA_COMPOSE, default 1). On shutdown the worker stops fetching, the
 * running composition is stopped (ffmpeg, downloads and uploads) and its job handed back
 * to the queue for another worker, without using an attempt (compositions are idempotent).
 */
@Processor(QueueName.MediaCompose)
export class MediaComposeProcessor extends QueueProcessor implements BeforeApplicationShutdown {
  protected readonly queueName = QueueName.MediaCompose;
  private readonly shutdown = new AbortController();

  constructor(private readonly composer: RecordingComposer) {
    super();
  }

  protected async handle(job: QueueJob<QueueName.MediaCompose>): Promise<unknown> {
    switch (job.name) {
      case JobName.RecordingCompose:
        return this.compose(job);
      default:
        return unknownJob(job.name);
    }
  }

  private async compose(job: Job<RecordingComposePayload>): Promise<unknown> {
    // Fetched while shutting down (a fetch already in flight when fetching stopped): hand it back untouched.
    if (this.shutdown.signal.aborted) return this.handBack(job);
    try {
      const outcome = await this.composer.run(job.data.sessionId, job.data.revision, this.shutdown.signal);
      // Another run of the session is composing: try again once it may be done, no attempt used.
      if (outcome.status === 'busy') return await deferJobUntil(job, Date.now() + COMPOSE_BUSY_RETRY_MS);
      return outcome;
    } catch (err) {
      if (!(err instanceof ComposeInterrupted)) throw err;
      if (err.reason === 'shutdown') return this.handBack(job);
      // Its lease was lost (another run may hold it now): later, no attempt used — a few times.
      const lost = leaseLosses(job) + 1;
      await job.updateProgress({ leaseLost: lost });
      if (lost > COMPOSE_LEASE_LOST_FREE_DEFERRALS) throw new ComposeFailure('internal_error', `composition lease lost ${lost} times (the run stalled past its lease)`, true);
      return deferJobUntil(job, Date.now() + COMPOSE_BUSY_RETRY_MS);
    }
  }

  /** Back to `wait` with no attempt used, for another worker to compose at once. Always throws WaitingError. */
  private async handBack(job: Job): Promise<never> {
    await job.moveToWait(job.token);
    this.logger.log(`Composition ${job.id} handed back to the queue (shutting down)`);
    throw new WaitingError();
  }

  /** The last attempt failed on an error that could have passed (storage down all along): announce it as final. */
  protected override async onFinalFailure(job: Job, err: Error): Promise<void> {
    if (job.name !== (JobName.RecordingCompose as string)) return;
    const data = job.data as RecordingComposePayload;
    await this.composer.failFinally(data.sessionId, data.revision, err);
  }

  /**
   * Stops fetching first, then stops the running composition: a job fetched between the
   * abort and the worker's close (onApplicationShutdown) would start already aborted.
   */
  async beforeApplicationShutdown(): Promise<void> {
    try {
      await this.worker.pause(true);
    } catch (err) {
      this.logger.warn(`Could not stop fetching compositions: ${errorMessage(err)}`);
    }
    this.shutdown.abort();
  }
}

/** How many times this job's lease was lost so far (its progress). */
function leaseLosses(job: Job): number {
  const progress = job.progress as { leaseLost?: unknown } | number | undefined;
  const n = typeof progress === 'object' && progress !== null ? progress.leaseLost : undefined;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}
