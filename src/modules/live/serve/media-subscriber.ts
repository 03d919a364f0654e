import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { closeDedicatedRedis, dedicatedRedis } from '../../../common/redis/dedicated-redis';
import { LiveSettings } from './live-settings';

export type MediaMessageHandler = (sessionId: string, packed: Buffer) => void;
export type AnnounceHandler = (sessionId: string) => void;

/**
 * This process's one pub/sub connection: the media channels of the sessions its
 * clients take media of (or the pattern of all of them, for `all` subscribers), and
 * the `announce` channel of sessions that start writing text. Messages stay Buffers
 * (messageBuffer / pmessageBuffer): frames are forwarded as they came.
 */
@Injectable()
export class MediaSubscriber implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(MediaSubscriber.name);
  private connection!: Redis;
  private readonly channelPrefix: string;
  private readonly announceChannel: Buffer;
  private channels = new Set<string>();
  private pattern = false;
  /** The pattern's subscription is confirmed: explicit channels' copies of the same messages are ignored. */
  private patternActive = false;
  private onMedia: MediaMessageHandler = () => undefined;
  private onAnnounce: AnnounceHandler = () => undefined;
  private syncing: Promise<void> = Promise.resolve();

  constructor(private readonly settings: LiveSettings) {
    this.channelPrefix = settings.keys.mediaChannel('');
    this.announceChannel = Buffer.from(settings.keys.announce);
  }

  onModuleInit(): void {
    this.connection = dedicatedRedis(this.settings.redisTopology, 'live-subscriber');
    this.connection.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.equals(this.announceChannel)) return this.onAnnounce(message.toString());
      if (this.patternActive) return;
      this.dispatch(channel, message);
    });
    this.connection.on('pmessageBuffer', (_pattern: string, channel: Buffer, message: Buffer) => this.dispatch(channel, message));
    this.connection.subscribe(this.settings.keys.announce).catch((err: Error) => this.logger.warn(`Subscribing to live announcements failed: ${err.message}`));
  }

  onApplicationShutdown(): void {
    closeDedicatedRedis(this.connection);
  }

  setHandlers(onMedia: MediaMessageHandler, onAnnounce: AnnounceHandler): void {
    this.onMedia = onMedia;
    this.onAnnounce = onAnnounce;
  }

  /** Subscribes to exactly these sessions' media channels (and the pattern when `all` is wanted). */
  want(sessionIds: ReadonlySet<string>, all: boolean): Promise<void> {
    this.syncing = this.syncing.then(() => this.apply(sessionIds, all)).catch((err: Error) => this.logger.warn(`Changing media subscriptions failed: ${err.message}`));
    return this.syncing;
  }

  private async apply(sessionIds: ReadonlySet<string>, all: boolean): Promise<void> {
    const wanted = new Set([...sessionIds].map((s) => this.settings.keys.mediaChannel(s)));
    const add = [...wanted].filter((c) => !this.channels.has(c));
    const remove = [...this.channels].filter((c) => !wanted.has(c));
    this.channels = wanted;
    if (all && !this.pattern) {
      this.pattern = true;
      await this.connection.psubscribe(this.settings.keys.mediaChannelPattern);
      this.patternActive = true;
    } else if (!all && this.pattern) {
      this.pattern = false;
      this.patternActive = false;
      await this.connection.punsubscribe(this.settings.keys.mediaChannelPattern);
    }
    if (add.length > 0) await this.connection.subscribe(...add);
    if (remove.length > 0) await this.connection.unsubscribe(...remove);
  }

  private dispatch(channel: Buffer, message: Buffer): void {
    const sessionId = channel.toString('latin1', this.channelPrefix.length);
    try {
      this.onMedia(sessionId, message);
    } catch (err) {
      this.logger.error(`Delivering live media of session ${sessionId} failed: ${(err as Error).message}`, (err as Error).stack);
    }
  }
}
