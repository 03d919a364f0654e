import { Processor } from '@nestjs/bullmq';
import { Job, UnrecoverableError } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import { JobOf, OAuthDeauthorizePayload, QueueJob } from '../../jobs/job-payloads';
import { deferJobUntil, QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { QueueName } from '../../jobs/queue-names';
import { ZoomError, ZoomTransportError } from '../../zoom/zoom-errors';
import { MAX_RETRY_AFTER_SEC } from '../../zoom/call/zoom-call-policy';
import { MIN_RETRY_AFTER_SEC } from '../../zoom/http/zoom-http.client';
import { ZoomTokenProvider } from '../../zoom/auth/zoom-token.provider';
import { OAuthDeauthorizer } from './oauth-deauthorizer.service';
import { ConnectionNotFoundError } from './oauth-connections.service';

/** How often one token.refresh job waits out a 429 of Zoom's token endpoint before a 429 uses an attempt like any error. */
export const TOKEN_REFRESH_MAX_THROTTLED = 10;

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
        return this.refresh(job);
      case JobName.OAuthDeauthorize:
        return this.deauthorizer.deauthorize(job.data);
      default:
        return unknownJob(job);
    }
  }

  private async refresh(job: Job<JobOf<JobName.TokenRefresh>>): Promise<{ refreshed: boolean }> {
    try {
      return { refreshed: await this.tokens.refreshIfDue(job.data.connectionId) };
    } catch (err) {
      // Deleted while it was refreshed: nothing left to refresh.
      if (err instanceof ConnectionNotFoundError) return { refreshed: false };
      // Zoom's token endpoint asked us to wait: as long as it said, without using an attempt.
      const throttled = job.data.throttled ?? 0;
      if (err instanceof ZoomTransportError && err.httpStatus === 429 && throttled < TOKEN_REFRESH_MAX_THROTTLED) {
        const waitSec = Math.max(MIN_RETRY_AFTER_SEC, Math.min(err.retryAfterSec ?? MIN_RETRY_AFTER_SEC, MAX_RETRY_AFTER_SEC));
        await job.updateData({ ...job.data, throttled: throttled + 1 });
        return deferJobUntil(job, Date.now() + waitSec * 1000);
      }
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
