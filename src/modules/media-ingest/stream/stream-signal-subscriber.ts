import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { dedicatedRedis } from '../../../common/redis/dedicated-redis';
import { StreamSignal, streamSignalChannel } from '../../../common/stream-signals/stream-signals';
import { AppConfig } from '../../../config/app.config';
import type { RedisTopology } from '../../../config/redis-topology';
import { errorMessage } from '../../../common/errors/error-message';

export type StreamSignalListener = (signal: StreamSignal) => void;

/**
 * Receives stream signals (failover, interrupted, stopped, close) over Redis pub/sub
 * and hands each to the listener registered for its stream in this process.
 */
@Injectable()
export class StreamSignalSubscriber implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(StreamSignalSubscriber.name);
  private readonly listeners = new Map<string, StreamSignalListener>();
  private subscriber: Redis | null = null;
  private readonly channel: string;
  private readonly redisTopology: RedisTopology;

  constructor(config: ConfigService<AppConfig, true>) {
    this.channel = streamSignalChannel(config.get('queues', { infer: true }).prefix);
    this.redisTopology = config.get('redis', { infer: true });
  }

  async onModuleInit(): Promise<void> {
    // A subscribed connection cannot run other commands: use a dedicated one.
    const sub = dedicatedRedis(this.redisTopology, 'stream-signal-subscriber');
    sub.on('message', (_channel: string, raw: string) => this.dispatch(raw));
    this.subscriber = sub;
    await sub.subscribe(this.channel);
  }

  async onApplicationShutdown(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = null;
    if (sub && sub.status !== 'end') await sub.quit().catch(() => sub.disconnect());
  }

  listen(rtmsStreamId: string, listener: StreamSignalListener): () => void {
    this.listeners.set(rtmsStreamId, listener);
    return () => {
      if (this.listeners.get(rtmsStreamId) === listener) this.listeners.delete(rtmsStreamId);
    };
  }

  private dispatch(raw: string): void {
    let signal: StreamSignal;
    try {
      signal = JSON.parse(raw) as StreamSignal;
    } catch {
      this.logger.warn('Ignoring a stream signal that is not JSON');
      return;
    }
    if (!signal || typeof signal.rtmsStreamId !== 'string') return;
    const listener = this.listeners.get(signal.rtmsStreamId);
    if (!listener) return;
    try {
      listener(signal);
    } catch (err) {
      this.logger.error(`Stream ${signal.rtmsStreamId}: signal ${signal.type} handler threw: ${errorMessage(err)}`);
    }
  }
}
