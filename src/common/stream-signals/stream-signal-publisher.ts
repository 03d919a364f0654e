import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { AppConfig } from '../../config/app.config';
import { REDIS_CLIENT } from '../redis/redis.module';
import { StreamSignal, streamSignalChannel } from './stream-signals';

/** Publishes stream signals; the stream worker subscribes to the same channel. */
@Injectable()
export class StreamSignalPublisher {
  private readonly channel: string;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: ConfigService<AppConfig, true>,
  ) {
    this.channel = streamSignalChannel(config.get('queues', { infer: true }).prefix);
  }

  /** Returns how many subscribers received it (0 when no worker holds streams). */
  async publish(signal: Omit<StreamSignal, 'at'>): Promise<number> {
    return this.redis.publish(this.channel, JSON.stringify({ ...signal, at: Date.now() }));
  }
}
