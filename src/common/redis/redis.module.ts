import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { AppConfig } from '../../config/app.config';
import { describeRedisTopology } from '../../config/redis-topology';
import { redisOutage } from '../logging/redis-outage-log';
import { KeyExpiryWatcher } from './key-expiry-watcher';
import { createRedisClient } from './redis-factory';
import { keepAsking } from './keep-asking';

export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

/**
 * Closes the shared client on shutdown so the process (and jest) can exit. QUIT only when
 * connected: on a socket Redis has not answered yet (it accepts but is stuck, or a proxy in
 * front holds the connection) ioredis sends QUIT anyway and its answer never comes, which
 * held shutdown forever.
 */
@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.redis.status === 'end') return;
    if (this.redis.status !== 'ready') return this.redis.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * One shared ioredis client for locks, caches, leases and health checks (BullMQ opens
 * its own connections), built for the configured topology (redis-factory.ts). Commands fail fast while disconnected instead of queueing,
 * so a Redis outage surfaces as an error rather than a hang.
 */
@Global()
@Module({
  providers: [
    {
      provide: REDIS_CLIENT,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const topology = config.get('redis', { infer: true });
        // Which Redis this process uses (hosts and mode only, never credentials).
        new Logger('Redis').log(`Redis: ${describeRedisTopology(topology)}`);
        const client = createRedisClient(topology, 'hub', {
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          lazyConnect: false,
        });
        // ioredis repeats the error on every retry: the process logs one line per outage.
        client.on('error', (err: Error) => redisOutage.failed(client, err.message));
        client.on('ready', () => redisOutage.ready(client));
        keepAsking(client, topology.socketTimeoutMs ?? 0);
        return client;
      },
    },
    RedisCloser,
    KeyExpiryWatcher,
  ],
  exports: [REDIS_CLIENT, KeyExpiryWatcher],
})
export class RedisModule {}
