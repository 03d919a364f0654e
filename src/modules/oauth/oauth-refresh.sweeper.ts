import { Injectable, Logger } from '@nestjs/common';
import { PeriodicTask } from '../../common/async/periodic-task';
import { errorMessage } from '../../common/errors/error-message';
import { REFRESH_WHEN_REMAINING_MS } from '../../zoom/auth/zoom-token.provider';
import { OAuthConnectionsService } from './oauth-connections.service';

const SWEEP_EVERY_MS = 5 * 60_000;
const PAGE = 500;

/**
 * Safety net for the proactive refresh chain: each token.refresh schedules the next one
 * when it stores the refreshed pair, so one job that failed for good, or one enqueue that
 * failed, ended the chain, and an idle connection then aged past its refresh token's
 * lifetime. An active connection whose proactive refresh (10 minutes before expiry) is
 * overdue — less than REFRESH_WHEN_REMAINING_MS left, or already expired — and has no
 * live job gets its job queued again, due at once. One still waiting, retrying or running
 * is left alone. Runs in processes that consume the oauth queue.
 */
@Injectable()
export class OAuthRefreshSweeper extends PeriodicTask {
  private readonly logger = new Logger(OAuthRefreshSweeper.name);
  protected readonly intervalMs = SWEEP_EVERY_MS;

  constructor(private readonly connections: OAuthConnectionsService) {
    super();
  }

  protected tick(): Promise<number> {
    return this.sweep();
  }

  /** One pass over every overdue active connection; returns how many jobs it queued. */
  async sweep(): Promise<number> {
    let requeued = 0;
    try {
      const before = new Date(Date.now() + REFRESH_WHEN_REMAINING_MS);
      let after: string | null = null;
      for (;;) {
        const page = await this.connections.findRefreshOverdue(before, after, PAGE);
        for (const c of page) {
          if (await this.connections.ensureProactiveRefresh(c)) requeued++;
        }
        if (page.length < PAGE) break;
        after = page[page.length - 1].id;
      }
    } catch (err) {
      this.logger.warn(`OAuth refresh sweep failed: ${errorMessage(err)}`);
    }
    if (requeued > 0) this.logger.warn(`Re-queued the proactive refresh of ${requeued} connection(s) that had no live job`);
    return requeued;
  }
}
