import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RELEASE_IF_HOLDER } from './lease-scripts';

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
}
