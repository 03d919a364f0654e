import { Injectable, Logger } from '@nestjs/common';
import { TurnBatcher } from '../../common/async/turn-batcher';
import { errorMessage } from '../../common/errors/error-message';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { SessionEventsService, StoredZoomEventInput } from '../sessions';

const TIMED_OUT = Symbol('timed out');

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
 * How long an answer to Zoom waits for the enqueue after its event is stored. Redis
 * answers in about a millisecond; BullMQ's connection never rejects while Redis is away
 * (maxRetriesPerRequest null and an offline queue: the command waits for Redis), so the
 * wait is bounded, far inside Zoom's 3 s deadline.
 */
export const ENQUEUE_TIMEOUT_MS = 500;
/** Events stored while an enqueue hangs, held to be queued when Redis answers; beyond this the sweeper has them. */
const MAX_DEFERRED = 10_000;
/** One addBulk per this many deferred events. */
const DEFERRED_CHUNK = 500;

/**
 * Group commit for incoming Zoom events: everything that arrives in the same event-loop
 * turn is stored in one INSERT and queued in one addBulk (TurnBatcher). The caller's
 * promise settles once its event is durably stored. If Postgres refuses the group for the
 * data of some row, the group is stored again row by row, so one bad event (up to 200 in
 * a group) fails alone; an outage is not retried row by row (it would only multiply it).
 *
 * Queueing never holds up the answer for long: Postgres is the truth, the job only its
 * trigger. An enqueue still unanswered after ENQUEUE_TIMEOUT_MS (Redis away) is left to
 * finish in the background, and until it settles later events are stored and answered
 * without one (only the enqueues sent before the first timed out wait in the offline
 * queue, not one per event); their ids are queued as soon as it settles. What is lost
 * meanwhile (a crash, more than MAX_DEFERRED) stays `received` and PendingEventsSweeper
 * queues it. A late enqueue of an event the sweeper queued already is harmless: same job
 * id (BullMQ adds nothing while that job is kept), and the job skips an event that is no
 * longer `received`.
 */
@Injectable()
export class ZoomEventWriter {
  private readonly logger = new Logger(ZoomEventWriter.name);
  /**
   * While enqueues that outlived ENQUEUE_TIMEOUT_MS have not settled (`hung` of them, sent
   * in the same moment, before any timed out): what was stored since, to queue after them.
   */
  private stall: { since: number; hung: number; deferred: string[]; dropped: number } | null = null;
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
    if (stored.length > 0) await this.enqueue(stored);
    return ids;
  }

  /** Queues the events' jobs, waiting at most ENQUEUE_TIMEOUT_MS; never rejects. */
  private async enqueue(eventIds: string[]): Promise<void> {
    if (this.stall) {
      this.defer(this.stall, eventIds);
      return;
    }
    const started = Date.now();
    const jobs = eventIds.map((eventId) => ({ data: { eventId } }));
    // Never rejects: the outcome is an error or null, whenever it comes.
    const settled = this.producer.enqueueBulk(JobName.ZoomEventProcess, jobs).then(
      () => null,
      (err: unknown) => err,
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ENQUEUE_TIMEOUT_MS)));
    const first = await Promise.race([settled, timedOut]);
    clearTimeout(timer);
    if (first === TIMED_OUT) {
      // Groups stored in the same moment (other event-loop turns) may time out together: one stall.
      if (!this.stall) {
        this.stall = { since: started, hung: 0, deferred: [], dropped: 0 };
        this.logger.warn(
          `Redis did not take ${eventIds.length} Zoom event job(s) within ${ENQUEUE_TIMEOUT_MS} ms: stored events are acknowledged without queueing until it answers (then queued; the pending-events sweeper catches the rest)`,
        );
      }
      const stall = this.stall;
      stall.hung++;
      void settled.then((err) => this.settled(stall, eventIds.length, err));
    } else if (first !== null) {
      this.couldNotQueue(eventIds.length, first);
    }
  }

  private defer(stall: NonNullable<ZoomEventWriter['stall']>, eventIds: string[]): void {
    const room = Math.max(0, MAX_DEFERRED - stall.deferred.length);
    stall.deferred.push(...eventIds.slice(0, room));
    stall.dropped += Math.max(0, eventIds.length - room);
  }

  /** A hung enqueue settled (Redis is back, or the connection closed); after the last one, queue what was stored meanwhile. */
  private settled(stall: NonNullable<ZoomEventWriter['stall']>, count: number, err: unknown): void {
    if (err) this.couldNotQueue(count, err);
    if (--stall.hung > 0) return;
    if (this.stall === stall) this.stall = null;
    const { since, deferred, dropped } = stall;
    const leftToSweeper = dropped > 0 ? `; ${dropped} more are left to the pending-events sweeper` : '';
    const after = `${((Date.now() - since) / 1000).toFixed(1)} s`;
    this.logger.log(`The Zoom event enqueue Redis held ${err ? 'failed' : 'went through'} after ${after}: queueing the ${deferred.length} event(s) stored meanwhile${leftToSweeper}`);
    // One chunk after the other: should Redis hang again, the rest waits for it once more.
    void (async () => {
      for (let i = 0; i < deferred.length; i += DEFERRED_CHUNK) await this.enqueue(deferred.slice(i, i + DEFERRED_CHUNK));
    })();
  }

  private couldNotQueue(count: number, err: unknown): void {
    // Stored but not queued: the pending-events sweeper re-queues them; still acknowledged.
    this.logger.error(`Stored ${count} Zoom event(s) but could not queue them: ${errorMessage(err)}`);
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
