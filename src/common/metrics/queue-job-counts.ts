import { Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { withTimeout } from '../async/with-timeout';
import { errorMessage } from '../errors/error-message';

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'paused'] as const;

/** How long a scrape waits for one queue's counts: Redis answers in milliseconds when it is up. */
export const QUEUE_COUNTS_TIMEOUT_MS = 1000;

type Counts = Record<string, number>;

/**
 * Reads the queues' job counts for /metrics without ever holding up the scrape. BullMQ's
 * connections never reject while Redis is down (maxRetriesPerRequest null and an offline
 * queue: a command waits for Redis to come back), so every read is bounded, and a queue
 * whose previous read is still unanswered is not asked again (that read is awaited once
 * more): an outage leaves at most one queued command per queue, not one per scrape.
 * Unavailability is logged once when it starts and once when the counts are back.
 */
export class QueueJobCounts {
  private readonly pending = new Map<Queue, Promise<Counts>>();
  private unavailable = false;

  constructor(
    private readonly logger: Pick<Logger, 'warn' | 'log'> = new Logger('Metrics'),
    private readonly timeoutMs = QUEUE_COUNTS_TIMEOUT_MS,
  ) {}

  /** Each queue's counts, or null for a queue that did not answer in time (or failed). */
  async read(queues: Queue[]): Promise<Array<Counts | null>> {
    const results = await Promise.all(queues.map((q) => this.readOne(q).then((counts) => ({ counts, err: null }), (err: unknown) => ({ counts: null, err }))));
    const failed = results.find((r) => r.counts === null);
    if (failed && !this.unavailable) {
      this.unavailable = true;
      this.logger.warn(`Queue job counts unavailable (${errorMessage(failed.err)}): rtms_hub_queue_jobs keeps its last values until Redis answers`);
    } else if (!failed && this.unavailable) {
      this.unavailable = false;
      this.logger.log('Queue job counts available again');
    }
    return results.map((r) => r.counts);
  }

  private readOne(queue: Queue): Promise<Counts> {
    let read = this.pending.get(queue);
    if (!read) {
      read = queue.getJobCounts(...QUEUE_STATES).finally(() => this.pending.delete(queue));
      this.pending.set(queue, read);
    }
    return withTimeout(read, this.timeoutMs, `no answer from Redis within ${this.timeoutMs} ms`);
  }
}
