import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { LiveBinaryMedia, registryMember } from '../live-protocol';
import { LiveSettings } from './live-settings';

/**
 * This process's entries in the media subscription registry: per session (or
 * ALL_SESSIONS) one member naming the union of the media its clients take there, with
 * an expiry refreshed every third of the TTL. Workers publish a session's media only
 * while some unexpired member names it, so a crashed process costs at most one TTL.
 */
@Injectable()
export class MediaRegistry implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(MediaRegistry.name);
  /** Target (session id or ALL_SESSIONS) → our member there. */
  private members = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly settings: LiveSettings,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.serially(() => this.refresh()), Math.max(100, Math.floor(this.settings.config.registryTtlMs / 3)));
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.want(new Map());
  }

  /** Makes the registry say exactly this: target → media wanted there (an empty list or absent target = nothing). */
  want(wanted: ReadonlyMap<string, readonly LiveBinaryMedia[]>): Promise<void> {
    return this.serially(() => this.apply(wanted));
  }

  /** Our current member for a target (tests, diagnostics). */
  memberFor(target: string): string | undefined {
    return this.members.get(target);
  }

  private async apply(wanted: ReadonlyMap<string, readonly LiveBinaryMedia[]>): Promise<void> {
    const next = new Map<string, string>();
    for (const [target, media] of wanted) if (media.length > 0) next.set(target, registryMember(this.settings.processId, media));
    const expiry = Date.now() + this.settings.config.registryTtlMs;
    const tx = this.redis.multi();
    const changed: string[] = [];
    for (const [target, member] of this.members) {
      if (next.get(target) !== member) tx.zrem(this.settings.keys.mediaWanted(target), member);
    }
    for (const [target, member] of next) {
      if (this.members.get(target) === member) continue;
      tx.zadd(this.settings.keys.mediaWanted(target), expiry, member);
      tx.pexpire(this.settings.keys.mediaWanted(target), this.keyTtlMs());
      tx.publish(this.settings.keys.mediaWantChanged, target);
      changed.push(target);
    }
    const before = this.members;
    this.members = next;
    if (changed.length === 0 && before.size === next.size && [...before.keys()].every((t) => next.has(t))) return;
    await tx.exec();
  }

  private async refresh(): Promise<void> {
    if (this.members.size === 0) return;
    const now = Date.now();
    const tx = this.redis.multi();
    for (const [target, member] of this.members) {
      const key = this.settings.keys.mediaWanted(target);
      tx.zadd(key, now + this.settings.config.registryTtlMs, member);
      tx.pexpire(key, this.keyTtlMs());
      // Hygiene: members of processes that died without removing theirs.
      tx.zremrangebyscore(key, '-inf', now);
    }
    await tx.exec();
  }

  /**
   * The key itself expires too, two member TTLs after the last refresh: when every process
   * that wanted a session's media died without removing its member, nothing else would
   * ever touch that key again.
   */
  private keyTtlMs(): number {
    return this.settings.config.registryTtlMs * 2;
  }

  private serially(step: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(step).catch((err: Error) => this.logger.warn(`Updating the media registry failed: ${err.message}`));
    return this.chain;
  }
}
