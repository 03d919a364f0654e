import { Injectable, Logger } from '@nestjs/common';
import { PeriodicTask } from '../../../common/async/periodic-task';
import { errorMessage } from '../../../common/errors/error-message';
import { AppEventsService } from '../../app-events';
import { WebhookAttemptQueue } from '../delivery/webhook-attempt-queue';
import { OverdueCursor, WebhookMessagesRepository } from '../repositories/webhook-messages.repository';

const SWEEP_EVERY_MS = 15_000;
/** An event not fanned out this long after it was stored has lost its job. */
const FANOUT_GRACE_MS = 10_000;
/** A message this far past its due time has lost its job (or waits behind a backlog). */
const OVERDUE_MS = 30_000;
const BATCH = 500;
/**
 * Overdue messages looked at per pass, at most: a pass goes on from where the previous
 * one stopped, so a backlog larger than this is still walked through in a few passes.
 */
const MAX_OVERDUE_PER_SWEEP = 10 * BATCH;

/**
 * Safety net for Redis losing jobs (a flush, a failover, an enqueue that failed after the
 * row was stored) and for jobs that failed for good while their work is still undone (a
 * Postgres outage longer than their retries): Postgres says what is due, and this queues
 * it again. A job still waiting or running is left to run. Runs in processes that consume
 * app-webhooks; several may run at once.
 *
 * Overdue messages are walked through in due order, page after page, not just the oldest
 * page: messages whose job is waiting behind a backlog (or whose job keeps failing) must
 * not hide a lost job behind them for ever.
 */
@Injectable()
export class WebhookDeliverySweeper extends PeriodicTask {
  private readonly logger = new Logger(WebhookDeliverySweeper.name);
  protected readonly intervalMs = SWEEP_EVERY_MS;
  /** Where the walk through overdue messages stopped (null: from the oldest). */
  private overdueCursor: OverdueCursor | null = null;

  constructor(
    private readonly events: AppEventsService,
    private readonly messages: WebhookMessagesRepository,
    private readonly attempts: WebhookAttemptQueue,
  ) {
    super();
  }

  protected tick(): Promise<unknown> {
    return this.sweep();
  }

  /** One pass; returns how many events and messages it re-queued. */
  async sweep(opts: { fanoutGraceMs?: number; overdueMs?: number } = {}): Promise<{ events: number; messages: number }> {
    try {
      const events = await this.events.requeueFanout(await this.events.findNotFannedOut(opts.fanoutGraceMs ?? FANOUT_GRACE_MS, BATCH));
      const messages = await this.requeueOverdue(opts.overdueMs ?? OVERDUE_MS);
      if (events + messages > 0) this.logger.warn(`Re-queued ${events} app event fan-out(s) and ${messages} webhook message(s) that had no live job`);
      return { events, messages };
    } catch (err) {
      this.logger.warn(`Webhook delivery sweep failed: ${errorMessage(err)}`);
      return { events: 0, messages: 0 };
    }
  }

  /** Queues the overdue messages with no live job, up to MAX_OVERDUE_PER_SWEEP looked at from the cursor on. */
  private async requeueOverdue(overdueMs: number): Promise<number> {
    let requeued = 0;
    for (let seen = 0; seen < MAX_OVERDUE_PER_SWEEP; ) {
      const page = await this.messages.findOverdue(overdueMs, BATCH, this.overdueCursor);
      for (const m of page) {
        if (await this.attempts.runNow({ messageId: m.id, attempt: m.attempts + 1 })) requeued++;
        this.overdueCursor = { dueAt: m.dueAt, id: m.id };
      }
      seen += page.length;
      if (page.length < BATCH) {
        // The end: the next pass starts again from the oldest.
        this.overdueCursor = null;
        break;
      }
    }
    return requeued;
  }
}
