import { Processor } from '@nestjs/bullmq';
import { Job } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import { JobOf, QueueJob } from '../../jobs/job-payloads';
import { deferJobUntil, QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { QueueName } from '../../jobs/queue-names';
import { WebhookAttemptTrigger } from './entities/webhook-attempt.entity';
import { WebhookDeliveryService } from './delivery/webhook-delivery.service';
import { AppEventFanoutService } from './fanout/app-event-fanout.service';

/** `app-webhooks` queue: fan app events out to endpoints, and deliver each message. */
@Processor(QueueName.AppWebhooks)
export class AppWebhooksProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.AppWebhooks;

  constructor(
    private readonly fanout: AppEventFanoutService,
    private readonly delivery: WebhookDeliveryService,
  ) {
    super();
  }

  protected async handle(job: QueueJob<QueueName.AppWebhooks>): Promise<unknown> {
    switch (job.name) {
      case JobName.AppEventFanout:
        return this.fanout.fanout(job.data.eventId);
      case JobName.WebhookDeliver:
        // At the endpoint's in-flight cap the job goes back to delayed, its attempt unused.
        return { outcome: await this.delivery.deliver(job.data.messageId, job.data.attempt, triggerOf(job.data), { defer: (at) => deferJobUntil(job, at) }) };
      default:
        return unknownJob(job);
    }
  }

  /**
   * A delivery job that failed for good moves its message on (the attempt recorded as
   * failed, the next one scheduled or the message failed): otherwise the message stayed
   * pending at the same due time and the sweeper queued the same failing job forever. A
   * fan-out that failed for good is queued again by the sweeper (its event is not fanned out).
   */
  protected override async onFinalFailure(job: Job, err: Error): Promise<void> {
    if (job.name !== JobName.WebhookDeliver) return;
    const data = job.data as JobOf<JobName.WebhookDeliver>;
    const outcome = await this.delivery.attemptJobFailed(data.messageId, data.attempt, triggerOf(data), err);
    this.logger.warn(`Webhook message ${data.messageId}: attempt ${data.attempt} failed for good in its job (${outcome})`);
  }
}

function triggerOf(data: JobOf<JobName.WebhookDeliver>): WebhookAttemptTrigger {
  return (data.trigger as WebhookAttemptTrigger | undefined) ?? WebhookAttemptTrigger.Scheduled;
}
