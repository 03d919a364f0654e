import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { redisOptionsFromUrl } from '../../../common/redis/redis-options';

/**
 * A connection of its own, for a blocking reader or a pub/sub subscriber (neither can
 * share the command client). It queues commands while reconnecting and retries them,
 * because its owner's loop resumes where it was.
 */
export function dedicatedRedis(url: string, name: string): Redis {
  const logger = new Logger(`Redis:${name}`);
  const client = new Redis({ ...redisOptionsFromUrl(url), connectionName: name, maxRetriesPerRequest: null, enableOfflineQueue: true });
  let lastError = '';
  client.on('error', (err: Error) => {
    if (err.message !== lastError) logger.warn(`connection error: ${err.message}`);
    lastError = err.message;
  });
  client.on('ready', () => (lastError = ''));
  return client;
}

/** Closes a dedicated connection at once (a blocked XREAD would make QUIT wait for its timeout). */
export function closeDedicatedRedis(client: Redis): void {
  if (client.status !== 'end') client.disconnect(false);
}
