import { Processor } from '@nestjs/bullmq';
import { Job } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import { JobOf, QueueJob } from '../../jobs/job-payloads';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { QueueName } from '../../jobs/queue-names';
import { ZoomEventHandlerService } from './zoom-event-handler.service';

@Processor(QueueName.ZoomEvents)
export class ZoomEventsProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.ZoomEvents;

  constructor(private readonly handler: ZoomEventHandlerService) {
    super();
  }

  protected async handle(job: QueueJob<QueueName.ZoomEvents>): Promise<void> {
    switch (job.name) {
      case JobName.ZoomEventProcess:
        return this.handler.handle(job.data.eventId, job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
      default:
        return unknownJob(job.name);
    }
  }

  protected override async onFinalFailure(job: Job, err: Error): Promise<void> {
    if (job.name === JobName.ZoomEventProcess) {
      await this.handler.markFailed((job.data as JobOf<JobName.ZoomEventProcess>).eventId, err.message);
    }
  }
}
