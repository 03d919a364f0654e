import { Injectable, Logger } from '@nestjs/common';
import { PeriodicTask } from '../../common/async/periodic-task';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { SessionEventsService } from '../sessions';
import { errorMessage } from '../../common/errors/error-message';

const SWEEP_EVERY_MS = 30_000;
const PENDING_FOR_MS = 20_000;

/**
 * Safety net for "stored but not queued": an event whose enqueue failed after it was
 * stored (Redis blip) is re-queued here. The deterministic jobId makes a re-queue of an
 * event that does have a job a no-op. Runs in processes that consume zoom-events.
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
      for (const id of ids) {
        await this.producer.enqueue(JobName.ZoomEventProcess, { eventId: id });
      }
      if (ids.length > 0) this.logger.warn(`Re-queued ${ids.length} stored Zoom event(s) that had no job`);
      return ids.length;
    } catch (err) {
      this.logger.warn(`Pending-events sweep failed: ${errorMessage(err)}`);
      return 0;
    }
  }
}
