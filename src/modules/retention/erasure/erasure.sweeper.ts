import { Injectable, Logger } from '@nestjs/common';
import { PeriodicTask } from '../../../common/async/periodic-task';
import { errorMessage } from '../../../common/errors/error-message';
import { JobName } from '../../../jobs/job-names';
import { JobProducer } from '../../../jobs/job-producer.service';
import { ErasuresRepository, UnfinishedErasure } from './erasures.repository';

const SWEEP_EVERY_MS = 60_000;
/**
 * How long an erasure's row must have stayed unchanged before its job is looked at. The
 * job does not write progress at a steady pace (a session with thousands of objects, or
 * nothing to delete, writes nothing for a while), so this is not what tells a live
 * erasure from an abandoned one — the job's state is (JobProducer.requeue leaves a job
 * that is waiting, delayed or running alone). It keeps the sweeper out of the moments
 * where the row and the job legitimately disagree: between the API's insert and its
 * enqueue, and between a job's final failure and onFinalFailure marking the row failed.
 */
const ABANDONED_AFTER_MS = 5 * 60_000;
const BATCH = 100;

/**
 * Safety net for erasures whose job will not finish them: the API crashed between saving
 * the request and queueing its job, Redis lost the job, or the job failed for good while
 * Postgres could not record it (onFinalFailure's markFailed hit the same outage). Such an
 * erasure would say `queued`/`running` for ever and keep its sealed subject. Its job is
 * queued again (a finished one replaced): the erasure is idempotent, so the re-run
 * completes it (or fails it, recorded this time). Runs in processes that consume
 * `maintenance` (RetentionModule).
 */
@Injectable()
export class ErasureSweeper extends PeriodicTask {
  private readonly logger = new Logger(ErasureSweeper.name);
  protected readonly intervalMs = SWEEP_EVERY_MS;

  constructor(
    private readonly erasures: ErasuresRepository,
    private readonly producer: JobProducer,
  ) {
    super();
  }

  protected tick(): Promise<number> {
    return this.sweep();
  }

  /** One pass over every erasure unchanged for `olderThanMs`, a page at a time; returns how many it re-queued. */
  async sweep(olderThanMs = ABANDONED_AFTER_MS): Promise<number> {
    let requeued = 0;
    // All of them, not the oldest page only: erasures whose jobs are legitimately waiting
    // (a backlog on `maintenance`) would otherwise hide the abandoned ones behind them.
    for (let after: UnfinishedErasure | undefined; ; ) {
      let page: UnfinishedErasure[];
      try {
        page = await this.erasures.findUnfinished(olderThanMs, BATCH, after);
      } catch (err) {
        this.logger.warn(`Erasure sweep failed: ${errorMessage(err)}`);
        break;
      }
      for (const { id: erasureId } of page) {
        try {
          if (await this.producer.requeue(JobName.ErasureRun, { erasureId })) requeued++;
        } catch (err) {
          this.logger.warn(`Erasure sweep could not re-queue erasure ${erasureId}: ${errorMessage(err)}`);
        }
      }
      if (page.length < BATCH) break;
      after = page[page.length - 1];
    }
    if (requeued > 0) this.logger.warn(`Re-queued ${requeued} erasure(s) still queued or running whose job was gone or finished`);
    return requeued;
  }
}
