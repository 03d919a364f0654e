import { Logger } from '@nestjs/common';

/**
 * Errors that say "Redis cannot be reached" (the socket, not a command; a Cluster with a
 * slot that no live primary serves, during its failover; no Cluster node answering the
 * question which primary serves the hub's slot): ioredis and
 * BullMQ repeat them on every connection and every retry while Redis is down.
 */
const CONNECTION_ERROR =
  /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|Connection is closed|Stream isn't writeable|Socket timeout|Too many Cluster redirections|CLUSTERDOWN|no node named the primary|max retries per request|socket closed|connection (?:was )?(?:closed|lost|reset)/i;

export function isRedisConnectionError(message: string): boolean {
  return CONNECTION_ERROR.test(message);
}

/** Once every client is back, this long without a new error before the outage counts as over. */
const SETTLE_MS = 1000;
/**
 * Without word from every failed client (a reporter that cannot say when it is back), an
 * outage ends this long after the last error: clients retry at least every 2 s while down.
 */
const QUIET_MS = 5000;

/**
 * One line when Redis becomes unreachable and one when it is back, per process, however
 * many clients (the shared one, BullMQ's queues and workers, the dedicated subscribers)
 * report the outage and however often they retry: a 3 s outage used to write ~100 lines.
 *
 * Clients report `failed(client, message)` for every connection error and `ready(client)`
 * when they are connected again; the outage ends when every client that failed is ready
 * (or, for reporters that cannot tell, after QUIET_MS without an error) and no new error
 * came within SETTLE_MS. Errors that are not about the connection are not this class's:
 * their owners log them.
 */
export class RedisOutageLog {
  private readonly down = new Set<unknown>();
  private since: number | null = null;
  private lastError = 0;
  private lastReady = 0;
  private suppressed = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly logger: Pick<Logger, 'warn' | 'log'> = new Logger('Redis'),
    private readonly now: () => number = Date.now,
  ) {}

  /** True while an outage is being reported. */
  get ongoing(): boolean {
    return this.since !== null;
  }

  /** A connection error from `client` (undefined: a reporter that cannot say when it is back). */
  failed(client: unknown, message: string): void {
    const now = this.now();
    this.lastError = now;
    if (client !== undefined) this.down.add(client);
    if (this.since === null) {
      this.since = now;
      this.suppressed = 0;
      this.logger.warn(`redis unreachable: ${message}`);
    } else {
      this.suppressed++;
    }
    this.schedule();
  }

  /** `client` is connected (again). */
  ready(client: unknown): void {
    this.down.delete(client);
    if (this.since === null) return;
    this.lastReady = this.now();
    this.schedule();
  }

  /** Stops the pending end-of-outage check (process shutdown). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), SETTLE_MS);
    this.timer.unref();
  }

  private check(): void {
    this.timer = null;
    if (this.since === null) return;
    const now = this.now();
    const quiet = now - this.lastError;
    const allBack = this.down.size === 0 && this.lastReady >= this.lastError;
    if (!(allBack && quiet >= SETTLE_MS) && quiet < QUIET_MS) {
      this.timer = setTimeout(() => this.check(), SETTLE_MS);
      this.timer.unref();
      return;
    }
    const seconds = ((Math.max(this.lastReady, this.lastError) - this.since) / 1000).toFixed(1);
    this.logger.log(`redis reachable again after ${seconds} s; ${this.suppressed} error${this.suppressed === 1 ? '' : 's'} suppressed`);
    this.since = null;
    this.down.clear();
  }
}

/** The process's Redis outage log (every Redis client of the process reports to it). */
export const redisOutage = new RedisOutageLog();
