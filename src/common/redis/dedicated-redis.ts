import Redis, { RedisOptions } from 'ioredis';
import type { RedisTopology } from '../../config/redis-topology';
import { redisOutage } from '../logging/redis-outage-log';
import { createRedisClient } from './redis-factory';
import { keepAsking } from './keep-asking';

/**
 * A connection of its own, for a blocking reader, a pub/sub subscriber (neither can share
 * the command client) or traffic that must not queue ahead of it. By default it queues
 * commands while reconnecting and retries them, because its owner's loop resumes where it
 * was; `overrides` change that (e.g. `maxRetriesPerRequest: 1` to fail fast). Connection
 * errors go to the process's Redis outage log (one line per outage).
 */
export function dedicatedRedis(topology: RedisTopology, name: string, overrides: Partial<RedisOptions> = {}): Redis {
  const client = createRedisClient(topology, name, { maxRetriesPerRequest: null, enableOfflineQueue: true, ...overrides });
  client.on('error', (err: Error) => redisOutage.failed(client, err.message));
  client.on('ready', () => redisOutage.ready(client));
  keepAsking(client, topology.socketTimeoutMs ?? 0);
  return client;
}

/** Closes a dedicated connection at once (a blocked XREAD would make QUIT wait for its timeout). */
export function closeDedicatedRedis(client: Redis): void {
  if (client.status !== 'end') client.disconnect(false);
}
