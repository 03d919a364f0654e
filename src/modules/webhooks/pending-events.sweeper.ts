import { Injectable, Logger } from '@nestjs/common';
import { PeriodicTask } from '../../common/async/periodic-task';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { PendingZoomEvent, SessionEventsService } from '../sessions';
import { errorMessage } from '../../common/errors/error-message';

const SWEEP_EVERY_MS = 30_000;
const PENDING_FOR_MS = 20_000;
const BATCH = 500;

/**
 * Safety net for "stored but not processed": an event whose enqueue failed after it was
 * stored (Redis blip, or an enqueue the writer stopped waiting for, see ZoomEventWriter),
 * or whose job finished without its row saying so (the final failure could not be
 * recorded: Postgres was down), is queued again here. An event whose job is still waiting
 * or running is left to it. Runs in processes that consume zoom-events.
 */
@Injectable()
export class PendingEventsSweeper extends PeriodicTask {
  private readonly logger = new Logger(PendingEventsSweeper.name);
  protected readonly intervalMs = SWEEP_EVERY_MS;
  /** Passes in progress: a tick that comes while one runs (a long backlog, Redis slow) is skipped. */
  private passes = 0;

  constructor(
    private readonly events: SessionEventsService,
    private readonly producer: JobProducer,
  ) {
    super();
  }

  protected tick(): Promise<number> {
    return this.passes > 0 ? Promise.resolve(0) : this.sweep();
  }

  /** One pass over every event still `received` after `olderThanMs`, a page at a time; returns how many it re-queued. */
  async sweep(olderThanMs = PENDING_FOR_MS): Promise<number> {
    let requeued = 0;
    this.passes++;
    try {
      // All of them, not the oldest page only: events whose jobs are legitimately waiting
      // (a backlog on zoom-events) would otherwise hide the lost ones behind them.
      for (let after: PendingZoomEvent | undefined; ; ) {
        const page = await this.events.pendingZoomEvents(olderThanMs, BATCH, after);
        for (const { id } of page) {
          if (await this.producer.requeue(JobName.ZoomEventProcess, { eventId: id })) requeued++;
        }
        if (page.length < BATCH) break;
        after = page[page.length - 1];
      }
    } catch (err) {
      // Postgres or Redis unavailable: the next tick tries again (what was re-queued so far stays).
      this.logger.warn(`Pending-events sweep failed: ${errorMessage(err)}`);
    } finally {
      this.passes--;
    }
    if (requeued > 0) this.logger.warn(`Re-queued ${requeued} stored Zoom event(s) that had no live job`);
    return requeued;
  }
}
