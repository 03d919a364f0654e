import { Injectable } from '@nestjs/common';
import { jobIdFor } from '../../../jobs/job-ids';
import { JobName } from '../../../jobs/job-names';
import { WebhookDeliverPayload } from '../../../jobs/job-payloads';
import { JobProducer } from '../../../jobs/job-producer.service';

/**
 * Queues one attempt of a message to run now. The attempt's job id is fixed, so a job of
 * that id may exist already: a delayed one (a scheduled retry) is brought forward, a
 * waiting or running one is left to run, a finished one (its id still kept by BullMQ) is
 * replaced. Used by resend/recover and by the sweeper.
 */
@Injectable()
export class WebhookAttemptQueue {
  constructor(private readonly producer: JobProducer) {}

  /** Returns false when the attempt was already waiting or running. */
  async runNow(data: WebhookDeliverPayload): Promise<boolean> {
    const existing = await this.producer.queueFor(JobName.WebhookDeliver).getJob(jobIdFor(JobName.WebhookDeliver, data) as string);
    if (existing && (await existing.getState()) === 'delayed') {
      await existing.updateData(data);
      await existing.promote();
      return true;
    }
    return this.producer.requeue(JobName.WebhookDeliver, data);
  }
}
