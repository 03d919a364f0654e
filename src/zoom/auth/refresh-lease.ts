import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { sleep } from '../../common/async/sleep';
import { errorMessage } from '../../common/errors/error-message';
import { REDIS_CLIENT } from '../../common/redis/redis.module';
import { HeldLease, RedisLock } from '../../common/redis/redis-lock';
import { AppConfig } from '../../config/app.config';

/** Shortest lease of one refresh: longer than two Zoom HTTP timeouts. It is renewed while held. */
const MIN_LEASE_TTL_MS = 30_000;

/** A refresh lease this process holds: whoever holds it must not use the refresh token, nor store a pair, once it is `lost`. */
export type HeldRefreshLease = HeldLease;

/**
 * The per-connection Redis lease under which a user grant's refresh token is used: by a
 * refresh (ZoomTokenProvider) and by a disconnect's revoke. Zoom rotates the refresh token
 * on each refresh, so whoever uses it must hold the lease and read the row under it — a
 * revoke racing a refresh would otherwise send the spent token and leave the new grant live.
 * The holder renews it while it works (a slow save no longer outlives it), so another
 * process takes it over only after the holder is gone or has stopped.
 */
@Injectable()
export class RefreshLease {
  private readonly logger = new Logger(RefreshLease.name);
  private readonly lock: RedisLock;
  private readonly prefix: string;
  /** How long a lease lives without renewal (and how long another holder may keep it unrenewed). */
  readonly ttlMs: number;

  constructor(
    @Inject(REDIS_CLIENT) redis: Redis,
    config: ConfigService<AppConfig, true>,
  ) {
    this.lock = new RedisLock(redis);
    this.prefix = `${config.get('queues', { infer: true }).prefix}:oauth:refresh-lock:`;
    this.ttlMs = Math.max(MIN_LEASE_TTL_MS, 2 * config.get('zoom', { infer: true }).httpTimeoutMs + 5_000);
  }

  /** The lease's token, or null when another process holds it. Not renewed: see `hold`. */
  acquire(connectionId: string): Promise<string | null> {
    return this.lock.acquire(this.prefix + connectionId, this.ttlMs);
  }

  async release(connectionId: string, token: string): Promise<void> {
    await this.lock.release(this.prefix + connectionId, token).catch(() => undefined);
  }

  /** Takes the lease and renews it until released; null when another process holds it. */
  async hold(connectionId: string): Promise<HeldRefreshLease | null> {
    const token = await this.acquire(connectionId);
    if (!token) return null;
    return this.lock.keep(this.prefix + connectionId, token, this.ttlMs, {
      lost: (why) => {
        this.logger.warn(`Refresh lease of connection ${connectionId} lost (${why})`);
        return new Error(`refresh lease lost: ${why}`);
      },
      renewFailed: (err) => this.logger.debug(`Refresh lease of connection ${connectionId} not renewed: ${errorMessage(err)}`),
    });
  }

  /**
   * Runs `fn` under the lease, waiting for another holder for at most `waitMs`. Past that,
   * `fn` runs anyway (`held` false): the holder's lease expires in at most `ttlMs` once it
   * stops renewing it.
   */
  async run<T>(connectionId: string, waitMs: number, fn: (held: boolean) => Promise<T>): Promise<T> {
    const deadline = Date.now() + waitMs;
    let lease = await this.hold(connectionId);
    while (!lease && Date.now() < deadline) {
      await sleep(40 + Math.floor(Math.random() * 40));
      lease = await this.hold(connectionId);
    }
    try {
      return await fn(lease !== null);
    } finally {
      await lease?.release();
    }
  }
}
