import { Injectable, Logger } from '@nestjs/common';
import { TurnBatcher } from '../../common/async/turn-batcher';
import { errorMessage } from '../../common/errors/error-message';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { SessionEventsService, StoredZoomEventInput } from '../sessions';

/** Postgres refused this one event's data (not an outage): storing it again will fail again. */
export class UnstorableEventError extends Error {}

/**
 * SQLSTATE classes of errors about the data of a row, not the database being down:
 * 22 data exception (e.g. 22P05 NUL in text, 22P02 bad JSON), 54 program limit exceeded
 * (e.g. 54001 stack depth, from a very deep jsonb).
 */
const DATA_ERROR = /^(22|54)/;
const isDataError = (err: unknown) => typeof (err as { code?: unknown })?.code === 'string' && DATA_ERROR.test((err as { code: string }).code);

/**
 * Group commit for incoming Zoom events: everything that arrives in the same event-loop
 * turn is stored in one INSERT and queued in one addBulk (TurnBatcher). The caller's
 * promise settles once its event is durably stored. If Postgres refuses the group for the
 * data of some row, the group is stored again row by row, so one bad event (up to 200 in
 * a group) fails alone; an outage is not retried row by row (it would only multiply it).
 */
@Injectable()
export class ZoomEventWriter {
  private readonly logger = new Logger(ZoomEventWriter.name);
  private readonly batcher = new TurnBatcher<StoredZoomEventInput, string | null | UnstorableEventError>((inputs) => this.write(inputs));

  constructor(
    private readonly events: SessionEventsService,
    private readonly producer: JobProducer,
  ) {}

  /** Resolves to the stored event id, or null for a duplicate; rejects if it was not stored. */
  async store(input: StoredZoomEventInput): Promise<string | null> {
    const out = await this.batcher.run(input);
    if (out instanceof UnstorableEventError) throw out;
    return out;
  }

  private async write(inputs: StoredZoomEventInput[]): Promise<Array<string | null | UnstorableEventError>> {
    const ids = await this.insert(inputs);
    const stored = ids.filter((id): id is string => typeof id === 'string');
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

  private async insert(inputs: StoredZoomEventInput[]): Promise<Array<string | null | UnstorableEventError>> {
    try {
      return await this.events.storeZoomEvents(inputs);
    } catch (err) {
      if (!isDataError(err)) throw err;
      if (inputs.length === 1) return [new UnstorableEventError(errorMessage(err))];
      this.logger.warn(`Postgres refused a group of ${inputs.length} Zoom events (${errorMessage(err)}); storing them one by one`);
      return Promise.all(
        inputs.map((input) =>
          this.events.storeZoomEvents([input]).then(
            ([id]) => id,
            (e: unknown) => {
              if (!isDataError(e)) throw e;
              this.logger.error(`Zoom event ${input.eventType} (dedupe key ${input.dedupeKey}) cannot be stored: ${errorMessage(e)}`);
              return new UnstorableEventError(errorMessage(e));
            },
          ),
        ),
      );
    }
  }
}
