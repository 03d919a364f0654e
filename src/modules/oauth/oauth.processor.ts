import { Processor } from '@nestjs/bullmq';
import { UnrecoverableError } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import { JobOf, QueueJob } from '../../jobs/job-payloads';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { QueueName } from '../../jobs/queue-names';
import { ZoomError } from '../../zoom/zoom-errors';
import { ZoomTokenProvider } from '../../zoom/auth/zoom-token.provider';

/** `oauth` queue: proactive token refreshes, shortly before access tokens expire. */
@Processor(QueueName.OAuth)
export class OAuthProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.OAuth;

  constructor(private readonly tokens: ZoomTokenProvider) {
    super();
  }

  protected async handle(job: QueueJob<QueueName.OAuth>): Promise<unknown> {
    switch (job.name) {
      case JobName.TokenRefresh:
        return this.refresh(job.data);
      default:
        return unknownJob(job.name);
    }
  }

  private async refresh(data: JobOf<JobName.TokenRefresh>): Promise<{ refreshed: boolean }> {
    try {
      return { refreshed: await this.tokens.refreshIfDue(data.connectionId) };
    } catch (err) {
      // A refused grant or a 4xx will not heal by retrying; network trouble will.
      if (err instanceof ZoomError && !err.retryable) throw new UnrecoverableError(err.message);
      throw err;
    }
  }
}
