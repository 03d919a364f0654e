import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

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
    await this.redis.eval(RELEASE, 1, key, token);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
