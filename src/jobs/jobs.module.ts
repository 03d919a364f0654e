import { BullModule } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Global, Injectable, Logger, Module, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type Redis from 'ioredis';
import { AppConfig } from '../config/app.config';
import { isRedisConnectionError, redisOutage } from '../common/logging/redis-outage-log';
import { keepAsking } from '../common/redis/keep-asking';
import { bullConnectionFor } from '../common/redis/redis-factory';
import { dropErrorsOfClosedConnections } from './closed-connection-errors';
import { defaultJobOptions } from './job-options';
import { JobProducer } from './job-producer.service';
import { ALL_QUEUES } from './queue-names';

/** How long shutdown waits for a queue's connection that is still starting. */
const READY_BEFORE_CLOSE_MS = 1_000;

/**
 * Queues emit 'error' on connection trouble (a line per queue and retry if logged as is); an
 * unhandled 'error' would crash the process.
 * Shutdown lets connections that are still starting finish (bounded, for when Redis is
 * down), so they close with QUIT; one closed while starting fails its start after close,
 * which closed-connection-errors.ts keeps from crashing the process.
 */
@Injectable()
class QueueErrorReporter implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('Queues');
  constructor(
    private readonly producer: JobProducer,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  onModuleInit(): void {
    for (const queue of this.producer.allQueues()) {
      let last = '';
      queue.on('error', (err: Error) => {
        // Redis unreachable: one line per outage for the whole process (redis-outage-log.ts).
        if (isRedisConnectionError(err.message)) return redisOutage.failed(queue, err.message);
        if (err.message !== last) this.logger.warn(`Queue ${queue.name}: ${err.message}`);
        last = err.message;
      });
      // ioredis says 'ready' after every reconnect: the queue is back.
      queue.client.then(
        (client) => {
          client.on('ready', () => redisOutage.ready(queue));
          // An idle queue would find a frozen primary only at its next command (keep-asking.ts).
          keepAsking(client as unknown as Redis, this.config.get('redis', { infer: true })?.socketTimeoutMs ?? 0);
        },
        () => undefined,
      );
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(
      this.producer.allQueues().map((queue) =>
        Promise.race([queue.waitUntilReady().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, READY_BEFORE_CLOSE_MS).unref())]),
      ),
    );
  }
}

/** BullMQ connection, every queue, and the typed producer. Used by API and workers. */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        // Before any queue or worker opens a connection.
        dropErrorsOfClosedConnections();
        const queues = config.get('queues', { infer: true });
        return {
          connection: bullConnectionFor(config.get('redis', { infer: true })),
          prefix: queues.prefix,
          defaultJobOptions: defaultJobOptions(queues),
        };
      },
    }),
    BullModule.registerQueue(...ALL_QUEUES.map((name) => ({ name }))),
  ],
  providers: [JobProducer, QueueErrorReporter],
  exports: [BullModule, JobProducer],
})
export class JobsModule {}
