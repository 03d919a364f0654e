import { Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import { MetricsService } from '../../common/metrics/metrics.service';
import { OAuthDeauthorizePayload } from '../../jobs/job-payloads';
import { EventProcessingStatus, SessionEventsService } from '../sessions';
import { OAuthConnectionsService } from './oauth-connections.service';

const EVENT_ERROR_MAX = 2000;

/**
 * The `oauth.deauthorize` job: a Zoom user removed the app (app_deauthorized) and Zoom
 * requires their tokens to be deleted. The stored Zoom event that asked is `processed`
 * once the job is queued; when the job fails for good, that event is marked `failed` with
 * the error (where failed Zoom events are looked for: docs/operations.md) and counted, so
 * an operator can fix the cause and retry the job from Bull Board.
 */
@Injectable()
export class OAuthDeauthorizer {
  private readonly logger = new Logger(OAuthDeauthorizer.name);
  private readonly finalFailures: Counter;

  constructor(
    private readonly connections: OAuthConnectionsService,
    private readonly events: SessionEventsService,
    metrics: MetricsService,
  ) {
    this.finalFailures = metrics.counter({
      name: 'rtms_hub_oauth_deauthorize_failures_total',
      help: "oauth.deauthorize jobs that failed for good: a deauthorized Zoom user's tokens are still stored",
    });
  }

  /**
   * Idempotent: a re-run finds nothing left to delete (the deletion and its
   * oauth.connection.revoked events commit together). A connection the user authorized
   * after `deauthorizedAt` stays: it is a new grant, not the one Zoom says was removed.
   */
  async deauthorize(data: OAuthDeauthorizePayload): Promise<{ removed: number }> {
    const at = data.deauthorizedAt ? new Date(data.deauthorizedAt) : undefined;
    const removed = await this.connections.deleteConnectionsForZoomUser(data.zoomUserId, data.zoomAccountId, at && !Number.isNaN(at.getTime()) ? at : undefined);
    await this.clearEarlierFailure(data.eventId);
    return { removed };
  }

  /** The job will not run again: the user's tokens are still stored. */
  async failedForGood(data: OAuthDeauthorizePayload, err: Error): Promise<void> {
    // Counted first: recording it on the event needs the database, which may be what failed.
    this.finalFailures.inc();
    this.logger.error(`The tokens of a deauthorized Zoom user are still stored (event ${data.eventId}): ${err.message}`);
    const error = `oauth.deauthorize failed for good: ${err.message}`.slice(0, EVENT_ERROR_MAX);
    await this.events.finishEvent(data.eventId, EventProcessingStatus.Failed, { error });
  }

  /** A retry that succeeds after a final failure (from Bull Board): the event no longer says failed. */
  private async clearEarlierFailure(eventId: string): Promise<void> {
    const event = await this.events.getEvent(eventId);
    if (event?.status === EventProcessingStatus.Failed) {
      await this.events.finishEvent(eventId, EventProcessingStatus.Processed, { error: null });
    }
  }
}
