import { Processor } from '@nestjs/bullmq';
import { JobName } from '../../jobs/job-names';
import { QueueJob } from '../../jobs/job-payloads';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
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
        return { outcome: await this.delivery.deliver(job.data.messageId, job.data.attempt, (job.data.trigger as WebhookAttemptTrigger | undefined) ?? WebhookAttemptTrigger.Scheduled) };
      default:
        return unknownJob(job);
    }
  }
}
