import { Injectable, Logger } from '@nestjs/common';
import { TurnBatcher } from '../../common/async/turn-batcher';
import { errorMessage } from '../../common/errors/error-message';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { SessionEventsService, StoredZoomEventInput } from '../sessions';

/**
 * Group commit for incoming Zoom events: everything that arrives in the same event-loop
 * turn is stored in one INSERT and queued in one addBulk (TurnBatcher). The caller's
 * promise settles once its event is durably stored.
 */
@Injectable()
export class ZoomEventWriter {
  private readonly logger = new Logger(ZoomEventWriter.name);
  private readonly batcher = new TurnBatcher<StoredZoomEventInput, string | null>((inputs) => this.write(inputs));

  constructor(
    private readonly events: SessionEventsService,
    private readonly producer: JobProducer,
  ) {}

  /** Resolves to the stored event id, or null for a duplicate; rejects if it was not stored. */
  store(input: StoredZoomEventInput): Promise<string | null> {
    return this.batcher.run(input);
  }

  private async write(inputs: StoredZoomEventInput[]): Promise<Array<string | null>> {
    const ids = await this.events.storeZoomEvents(inputs);
    const stored = ids.filter((id): id is string => id !== null);
    if (stored.length > 0) {
      try {
        await this.producer.enqueueBulk(
          JobName.ZoomEventProcess,
          stored.map((eventId) => ({ data: { eventId } })),
        );
      } catch (err) {
        // Stored but not queued: the pending-events sweeper re-queues them; still acknowledged.
        this.logger.error(`Stored ${stored.length} Zoom event(s) but could not queue them: ${errorMessage(err)}`);
      }
    }
    return ids;
  }
}
