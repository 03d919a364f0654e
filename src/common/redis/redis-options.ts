import { RedisOptions } from 'ioredis';

/** Back off up to 2 s between reconnect attempts instead of hammering a down server: 200 ms more per attempt. */
export const reconnectDelayMs = (attempt: number): number => Math.min(attempt * 200, 2000);

/**
 * ioredis options from a redis:// or rediss:// URL. BullMQ needs
 * maxRetriesPerRequest: null for its blocking worker connections; every other client
 * of the hub uses the same base so they fail and reconnect alike.
 */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const u = new URL(url);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: Number.isFinite(db) ? db : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
    retryStrategy: reconnectDelayMs,
  };
}
