import type { Logger } from '@nestjs/common';
import { isRedisConnectionError, redisOutage } from './redis-outage-log';

/**
 * Logs a failure only when its message differs from the last one logged, so a loop that
 * fails every turn leaves one line (and one more when it recovers), not thousands. A
 * failure that says Redis cannot be reached belongs to the process's Redis outage log
 * (one line per outage for every client), not here.
 */
export class DistinctErrorLog {
  private last: string | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  failed(message: string): void {
    if (isRedisConnectionError(message)) {
      redisOutage.failed(undefined, message);
      return;
    }
    if (message === this.last) return;
    this.last = message;
    this.logger.warn(`${this.what} failed: ${message}`);
  }

  recovered(detail = ''): void {
    if (this.last === null) return;
    this.last = null;
    this.logger.log(`${this.what} works again${detail ? ` (${detail})` : ''}`);
  }
}
