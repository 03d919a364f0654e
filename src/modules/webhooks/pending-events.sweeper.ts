import { Injectable, Logger } from '@nestjs/common';
import { PeriodicTask } from '../../common/async/periodic-task';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { SessionEventsService } from '../sessions';
import { errorMessage } from '../../common/errors/error-message';

const SWEEP_EVERY_MS = 30_000;
const PENDING_FOR_MS = 20_000;

/**
 * Safety net for "stored but not processed": an event whose enqueue failed after it was
 * stored (Redis blip), or whose job finished without its row saying so (the final
 * failure could not be recorded: Postgres was down), is queued again here. An event whose
 * job is still waiting or running is left to it. Runs in processes that consume zoom-events.
 */
@Injectable()
export class PendingEventsSweeper extends PeriodicTask {
  private readonly logger = new Logger(PendingEventsSweeper.name);
  protected readonly intervalMs = SWEEP_EVERY_MS;

  constructor(
    private readonly events: SessionEventsService,
    private readonly producer: JobProducer,
  ) {
    super();
  }

  protected tick(): Promise<number> {
    return this.sweep();
  }

  async sweep(olderThanMs = PENDING_FOR_MS): Promise<number> {
    try {
      const ids = await this.events.pendingZoomEvents(olderThanMs, 500);
      let requeued = 0;
      for (const id of ids) {
        if (await this.producer.requeue(JobName.ZoomEventProcess, { eventId: id })) requeued++;
      }
      if (requeued > 0) this.logger.warn(`Re-queued ${requeued} stored Zoom event(s) that had no live job`);
      return requeued;
    } catch (err) {
      this.logger.warn(`Pending-events sweep failed: ${errorMessage(err)}`);
      return 0;
    }
  }
}
