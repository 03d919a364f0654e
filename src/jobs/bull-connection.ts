import { Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { Cluster, RedisOptions } from 'ioredis';
import { redisOutage } from '../common/logging/redis-outage-log';
import { bullConnectionFor } from '../common/redis/redis-factory';
import type { RedisTopology } from '../config/redis-topology';

/**
 * BullMQ's connection for this app. Under Cluster it is one client instance that BullMQ
 * shares between the queues and never closes (a shared connection is its owner's): this
 * provider owns it and closes it at shutdown. Its module is imported by BullMQ's root
 * module, one level deeper, so Nest runs this shutdown hook after the queues' and
 * workers' (shutdown goes from the root module down).
 */
@Injectable()
export class BullConnection implements OnApplicationShutdown {
  private shared: Cluster | null = null;

  for(topology: RedisTopology): RedisOptions | Cluster {
    const connection = bullConnectionFor(topology);
    if (connection instanceof Cluster) {
      this.shared = connection;
      connection.on('error', (err: Error) => redisOutage.failed(connection, err.message));
      connection.on('ready', () => redisOutage.ready(connection));
    }
    return connection;
  }

  async onApplicationShutdown(): Promise<void> {
    const client = this.shared;
    this.shared = null;
    if (!client || client.status === 'end') return;
    if (client.status !== 'ready') return client.disconnect();
    await client.quit().catch(() => client.disconnect());
  }
}

@Module({ providers: [BullConnection], exports: [BullConnection] })
export class BullConnectionModule {}
