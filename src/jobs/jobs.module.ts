import { BullModule } from '@nestjs/bullmq';
import { Global, Injectable, Logger, Module, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/app.config';
import { redisOptionsFromUrl } from '../common/redis/redis-options';
import { defaultJobOptions } from './job-options';
import { JobProducer } from './job-producer.service';
import { ALL_QUEUES } from './queue-names';

/** Queues emit 'error' on connection trouble; an unhandled 'error' would crash the process. */
@Injectable()
class QueueErrorReporter implements OnModuleInit {
  private readonly logger = new Logger('Queues');
  constructor(private readonly producer: JobProducer) {}

  onModuleInit(): void {
    for (const queue of this.producer.allQueues()) {
      let last = '';
      queue.on('error', (err: Error) => {
        if (err.message !== last) this.logger.warn(`Queue ${queue.name}: ${err.message}`);
        last = err.message;
      });
    }
  }
}

/** BullMQ connection, every queue, and the typed producer. Used by API and workers. */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const queues = config.get('queues', { infer: true });
        return {
          connection: redisOptionsFromUrl(config.get('redis', { infer: true }).url),
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
