import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { sleep } from '../../common/async/sleep';
import { REDIS_CLIENT } from '../../common/redis/redis.module';
import { RedisLock } from '../../common/redis/redis-lock';
import { AppConfig } from '../../config/app.config';

/** Shortest lease of one refresh; it is always longer than two Zoom HTTP timeouts, so it cannot lapse mid-call. */
const MIN_LEASE_TTL_MS = 30_000;

/**
 * The per-connection Redis lease under which a user grant's refresh token is used: by a
 * refresh (ZoomTokenProvider) and by a disconnect's revoke. Zoom rotates the refresh token
 * on each refresh, so whoever uses it must hold the lease and read the row under it — a
 * revoke racing a refresh would otherwise send the spent token and leave the new grant live.
 */
@Injectable()
export class RefreshLease {
  private readonly lock: RedisLock;
  private readonly prefix: string;
  /** How long a lease lives (and how long another holder may keep it). */
  readonly ttlMs: number;

  constructor(@Inject(REDIS_CLIENT) redis: Redis, config: ConfigService<AppConfig, true>) {
    this.lock = new RedisLock(redis);
    this.prefix = `${config.get('queues', { infer: true }).prefix}:oauth:refresh-lock:`;
    this.ttlMs = Math.max(MIN_LEASE_TTL_MS, 2 * config.get('zoom', { infer: true }).httpTimeoutMs + 5_000);
  }

  /** The lease's token, or null when another process holds it. */
  acquire(connectionId: string): Promise<string | null> {
    return this.lock.acquire(this.prefix + connectionId, this.ttlMs);
  }

  async release(connectionId: string, token: string): Promise<void> {
    await this.lock.release(this.prefix + connectionId, token).catch(() => undefined);
  }

  /**
   * Runs `fn` under the lease, waiting for another holder for at most `waitMs`. Past that,
   * `fn` runs anyway (`held` false): the holder's lease expires in at most `ttlMs`.
   */
  async run<T>(connectionId: string, waitMs: number, fn: (held: boolean) => Promise<T>): Promise<T> {
    const deadline = Date.now() + waitMs;
    let token = await this.acquire(connectionId);
    while (!token && Date.now() < deadline) {
      await sleep(40 + Math.floor(Math.random() * 40));
      token = await this.acquire(connectionId);
    }
    try {
      return await fn(token !== null);
    } finally {
      if (token) await this.release(connectionId, token);
    }
  }
}
