import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RELEASE_IF_HOLDER, RENEW_IF_HOLDER } from './lease-scripts';

/** A lease this process holds, renewed every third of its life until released. */
export interface HeldLease {
  /**
   * Aborted once the lease is lost: a renewal found another holder (it expired: the
   * process stalled), or Redis confirmed none for half a lease. The holder must stop the
   * work the lease guards.
   */
  readonly lost: AbortSignal;
  /** Stops renewing and gives the lease back (a failure to give it back is the caller's `onReleaseError`). */
  release(): Promise<void>;
}

/** What a held lease tells its holder's logs, and the reason its `lost` signal carries. */
export interface LeaseHooks {
  lost(why: string): Error;
  renewFailed?(err: unknown): void;
  releaseFailed?(err: unknown): void;
}

/**
 * A Redis lease shared by every process: SET NX PX to take it, compare-and-delete to
 * give it back (so a holder whose lease expired cannot release someone else's).
 */
export class RedisLock {
  constructor(private readonly redis: Redis) {}

  /** Returns the holder token, or null when someone else holds the lock. */
  async acquire(key: string, ttlMs: number): Promise<string | null> {
    const token = randomBytes(16).toString('hex');
    const ok = await this.redis.set(key, token, 'PX', ttlMs, 'NX');
    return ok === 'OK' ? token : null;
  }

  async release(key: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE_IF_HOLDER, 1, key, token);
  }

  /**
   * Takes the lease and renews it every third of `ttlMs` until released; null when
   * someone else holds it. Once the last renewal Redis confirmed is more than half a lease
   * ago (one failed or is still unanswered), or a renewal finds another holder, `lost` is
   * aborted: the key is then still certain to be ours for a while, and the holder stops
   * before anyone else can take it.
   */
  async hold(key: string, ttlMs: number, hooks: LeaseHooks): Promise<HeldLease | null> {
    const token = await this.acquire(key, ttlMs);
    return token ? this.keep(key, token, ttlMs, hooks) : null;
  }

  /** `hold` for a lease already taken with `acquire` (its token). */
  keep(key: string, token: string, ttlMs: number, hooks: LeaseHooks): HeldLease {
    const lost = new AbortController();
    let renewedAt = Date.now();
    const loseIt = (why: string) => {
      if (!lost.signal.aborted) lost.abort(hooks.lost(why));
    };
    const renew = setInterval(() => {
      if (Date.now() - renewedAt > ttlMs / 2) return loseIt(`not renewed for ${Date.now() - renewedAt} ms`);
      const sentAt = Date.now();
      this.redis.eval(RENEW_IF_HOLDER, 1, key, token, String(ttlMs)).then(
        (ok) => {
          if (ok === 1) renewedAt = sentAt;
          else loseIt('another holder has it, or it expired');
        },
        (err: unknown) => hooks.renewFailed?.(err),
      );
    }, Math.floor(ttlMs / 3));
    renew.unref();
    return {
      lost: lost.signal,
      release: async () => {
        clearInterval(renew);
        await this.release(key, token).catch((err: unknown) => hooks.releaseFailed?.(err));
      },
    };
  }
}
