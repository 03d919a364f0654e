import { Injectable, Logger } from '@nestjs/common';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { SessionEventsService, StoredZoomEventInput } from '../sessions';
import { errorMessage } from '../../common/errors/error-message';

interface Pending {
  input: StoredZoomEventInput;
  resolve: (id: string | null) => void;
  reject: (err: unknown) => void;
}

const MAX_BATCH = 200;

/**
 * Group commit for incoming Zoom events: everything that arrives in the same event-loop
 * turn is stored in one INSERT and queued in one addBulk. An idle hub pays nothing (the
 * batch is flushed on setImmediate); a busy one does one round trip per batch instead of
 * one per webhook. The caller's promise settles once its event is durably stored.
 */
@Injectable()
export class ZoomEventWriter {
  private readonly logger = new Logger(ZoomEventWriter.name);
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly events: SessionEventsService,
    private readonly producer: JobProducer,
  ) {}

  /** Resolves to the stored event id, or null for a duplicate; rejects if it was not stored. */
  store(input: StoredZoomEventInput): Promise<string | null> {
    return new Promise((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (this.pending.length >= MAX_BATCH) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) void this.write(batch);
  }

  private async write(batch: Pending[]): Promise<void> {
    let ids: Array<string | null>;
    try {
      ids = await this.events.storeZoomEvents(batch.map((p) => p.input));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
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
    batch.forEach((p, i) => p.resolve(ids[i]));
  }
}
