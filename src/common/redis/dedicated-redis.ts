import { Logger } from '@nestjs/common';
import Redis, { RedisOptions } from 'ioredis';
import { DistinctErrorLog } from '../logging/distinct-error-log';
import { redisOptionsFromUrl } from './redis-options';

/**
 * A connection of its own, for a blocking reader, a pub/sub subscriber (neither can share
 * the command client) or traffic that must not queue ahead of it. By default it queues
 * commands while reconnecting and retries them, because its owner's loop resumes where it
 * was; `overrides` change that (e.g. `maxRetriesPerRequest: 1` to fail fast). Each distinct
 * connection error is logged once.
 */
export function dedicatedRedis(url: string, name: string, overrides: Partial<RedisOptions> = {}): Redis {
  const errors = new DistinctErrorLog(new Logger(`Redis:${name}`), 'The connection');
  const client = new Redis({ ...redisOptionsFromUrl(url), connectionName: name, maxRetriesPerRequest: null, enableOfflineQueue: true, ...overrides });
  client.on('error', (err: Error) => errors.failed(err.message));
  client.on('ready', () => errors.recovered());
  return client;
}

/** Closes a dedicated connection at once (a blocked XREAD would make QUIT wait for its timeout). */
export function closeDedicatedRedis(client: Redis): void {
  if (client.status !== 'end') client.disconnect(false);
}
