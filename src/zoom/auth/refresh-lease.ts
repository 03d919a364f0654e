import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { sleep } from '../../common/async/sleep';
import { errorMessage } from '../../common/errors/error-message';
import { RENEW_IF_HOLDER } from '../../common/redis/lease-scripts';
import { REDIS_CLIENT } from '../../common/redis/redis.module';
import { RedisLock } from '../../common/redis/redis-lock';
import { AppConfig } from '../../config/app.config';

/** Shortest lease of one refresh: longer than two Zoom HTTP timeouts. It is renewed while held. */
const MIN_LEASE_TTL_MS = 30_000;

/** A refresh lease this process holds, renewed every third of its life until released. */
export interface HeldRefreshLease {
  /**
   * Aborted once the lease is lost: a renewal found another holder (it expired: the
   * process stalled), or Redis confirmed none for half a lease. Whoever holds it must not
   * use the refresh token, nor store a pair, after that.
   */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

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
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
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
    const key = this.prefix + connectionId;
    const lost = new AbortController();
    let renewedAt = Date.now();
    const loseIt = (why: string) => {
      if (lost.signal.aborted) return;
      this.logger.warn(`Refresh lease of connection ${connectionId} lost (${why})`);
      lost.abort(new Error(`refresh lease lost: ${why}`));
    };
    const renew = setInterval(() => {
      // The last renewal Redis confirmed is more than half a lease ago: stop while the key
      // is still certain to be ours for a while.
      if (Date.now() - renewedAt > this.ttlMs / 2) return loseIt(`not renewed for ${Date.now() - renewedAt} ms`);
      const sentAt = Date.now();
      this.redis.eval(RENEW_IF_HOLDER, 1, key, token, String(this.ttlMs)).then(
        (ok) => {
          if (ok === 1) renewedAt = sentAt;
          else loseIt('another process holds it, or it expired');
        },
        (err: unknown) => this.logger.debug(`Refresh lease of connection ${connectionId} not renewed: ${errorMessage(err)}`),
      );
    }, Math.floor(this.ttlMs / 3));
    renew.unref();
    return {
      lost: lost.signal,
      release: async () => {
        clearInterval(renew);
        await this.release(connectionId, token);
      },
    };
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
