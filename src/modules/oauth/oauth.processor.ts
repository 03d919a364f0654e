import { Processor } from '@nestjs/bullmq';
import { Job, UnrecoverableError } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import { JobOf, OAuthDeauthorizePayload, QueueJob } from '../../jobs/job-payloads';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { QueueName } from '../../jobs/queue-names';
import { ZoomError } from '../../zoom/zoom-errors';
import { ZoomTokenProvider } from '../../zoom/auth/zoom-token.provider';
import { OAuthDeauthorizer } from './oauth-deauthorizer.service';

/**
 * `oauth` queue: proactive token refreshes, shortly before access tokens expire, and
 * removal of a deauthorized user's connections (asked for by the webhooks module).
 */
@Processor(QueueName.OAuth)
export class OAuthProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.OAuth;

  constructor(
    private readonly tokens: ZoomTokenProvider,
    private readonly deauthorizer: OAuthDeauthorizer,
  ) {
    super();
  }

  protected async handle(job: QueueJob<QueueName.OAuth>): Promise<unknown> {
    switch (job.name) {
      case JobName.TokenRefresh:
        return this.refresh(job.data);
      case JobName.OAuthDeauthorize:
        return this.deauthorizer.deauthorize(job.data);
      default:
        return unknownJob(job);
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

  /** A deauthorized user's tokens still stored must be seen: their event is marked failed and counted. */
  protected override async onFinalFailure(job: Job, err: Error): Promise<void> {
    if (job.name === (JobName.OAuthDeauthorize as string)) await this.deauthorizer.failedForGood(job.data as OAuthDeauthorizePayload, err);
  }
}
