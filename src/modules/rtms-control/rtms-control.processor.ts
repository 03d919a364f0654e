import { Processor } from '@nestjs/bullmq';
import { Job } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import { QueueJob, RtmsControlPayload } from '../../jobs/job-payloads';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { QueueName } from '../../jobs/queue-names';
import { RtmsControlRunner } from './rtms-control.runner';

/** `rtms-control` queue: rtms.start / stop / pause / resume against Zoom's REST API. */
@Processor(QueueName.RtmsControl)
export class RtmsControlProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.RtmsControl;

  constructor(private readonly runner: RtmsControlRunner) {
    super();
  }

  protected async handle(job: QueueJob<QueueName.RtmsControl>): Promise<unknown> {
    switch (job.name) {
      case JobName.RtmsStart:
        return this.runner.run(job, 'start');
      case JobName.RtmsStop:
        return this.runner.run(job, 'stop');
      case JobName.RtmsPause:
        return this.runner.run(job, 'pause');
      case JobName.RtmsResume:
        return this.runner.run(job, 'resume');
      default:
        return unknownJob(job);
    }
  }

  protected override async onFinalFailure(job: Job<RtmsControlPayload>, err: Error): Promise<void> {
    if (job.data?.requestId) await this.runner.finalFailure(job.data.requestId, err);
  }
}
