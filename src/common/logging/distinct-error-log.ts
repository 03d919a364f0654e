import type { Logger } from '@nestjs/common';

/**
 * Logs a failure only when its message differs from the last one logged, so a Redis
 * outage that fails every turn leaves one line (and one more when it recovers), not
 * thousands.
 */
export class DistinctErrorLog {
  private last: string | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  failed(message: string): void {
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
