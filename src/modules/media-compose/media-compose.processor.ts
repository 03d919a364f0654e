import { Processor } from '@nestjs/bullmq';
import { BeforeApplicationShutdown } from '@nestjs/common';
import { Job } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import { QueueJob, RecordingComposePayload } from '../../jobs/job-payloads';
import { QueueName } from '../../jobs/queue-names';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { RecordingComposer } from './compose/recording-composer.service';

/**
 * `media-compose` queue: builds recording.mp4 (CPU-heavy: its own workers, concurrency
 * CONCURRENCY_MEDIA_COMPOSE, default 1). On shutdown the running ffmpeg is stopped and
 * the job retried elsewhere (its attempt counts; compositions are idempotent).
 */
@Processor(QueueName.MediaCompose)
export class MediaComposeProcessor extends QueueProcessor implements BeforeApplicationShutdown {
  protected readonly queueName = QueueName.MediaCompose;
  private readonly shutdown = new AbortController();

  constructor(private readonly composer: RecordingComposer) {
    super();
  }

  protected async handle(job: QueueJob<QueueName.MediaCompose>): Promise<unknown> {
    switch (job.name) {
      case JobName.RecordingCompose:
        return this.composer.run(job.data.sessionId, job.data.revision, this.shutdown.signal);
      default:
        return unknownJob(job.name);
    }
  }

  /** The last attempt failed on an error that could have passed (storage down all along): announce it as final. */
  protected override async onFinalFailure(job: Job, err: Error): Promise<void> {
    if (job.name !== (JobName.RecordingCompose as string)) return;
    const data = job.data as RecordingComposePayload;
    await this.composer.failFinally(data.sessionId, data.revision, err);
  }

  beforeApplicationShutdown(): void {
    this.shutdown.abort();
  }
}
