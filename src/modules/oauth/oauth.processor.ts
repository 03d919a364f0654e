import { Processor } from '@nestjs/bullmq';
import { UnrecoverableError } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import { JobOf, QueueJob } from '../../jobs/job-payloads';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { QueueName } from '../../jobs/queue-names';
import { ZoomError } from '../../zoom/zoom-errors';
import { ZoomTokenProvider } from '../../zoom/auth/zoom-token.provider';
import { OAuthConnectionsService } from './oauth-connections.service';

/**
 * `oauth` queue: proactive token refreshes, shortly before access tokens expire, and
 * removal of a deauthorized user's connections (asked for by the webhooks module).
 */
@Processor(QueueName.OAuth)
export class OAuthProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.OAuth;

  constructor(
    private readonly tokens: ZoomTokenProvider,
    private readonly connections: OAuthConnectionsService,
  ) {
    super();
  }

  protected async handle(job: QueueJob<QueueName.OAuth>): Promise<unknown> {
    switch (job.name) {
      case JobName.TokenRefresh:
        return this.refresh(job.data);
      case JobName.OAuthDeauthorize:
        return this.deauthorize(job.data);
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

  /** Idempotent: a re-run finds nothing left to delete. */
  private async deauthorize(data: JobOf<JobName.OAuthDeauthorize>): Promise<{ removed: number }> {
    return { removed: await this.connections.deleteConnectionsForZoomUser(data.zoomUserId, data.zoomAccountId) };
  }
}
