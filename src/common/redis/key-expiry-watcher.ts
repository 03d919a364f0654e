import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { AppConfig } from '../../config/app.config';
import type { RedisTopology } from '../../config/redis-topology';
import { errorMessage } from '../errors/error-message';
import { closeDedicatedRedis, dedicatedRedis } from './dedicated-redis';
import { redisDatabase } from './redis-factory';

export type KeyExpiredListener = (key: string) => void;

/**
 * True when `notify-keyspace-events` makes Redis publish `__keyevent@<db>__:expired`:
 * the `E` class (keyevent channels) and the `x` (expired) type, or `A` (all types).
 */
export function expiredEventsEnabled(flags: string): boolean {
  return flags.includes('E') && (flags.includes('x') || flags.includes('A'));
}

/**
 * Tells listeners the moment Redis expires one of their keys, so a standby learns that a
 * lease holder died when its lease key expires rather than on its next poll. It relies on
 * Redis keyspace notifications (`notify-keyspace-events` with `Ex`), which the hub never
 * turns on itself (managed Redis often forbids CONFIG SET, and the setting is the
 * server's, shared with every other user): where they are off, `enabled` stays false and
 * callers keep polling (docs/operations.md). One subscribed connection per process,
 * opened only when the first listener registers; costs nothing while no key expires.
 */
@Injectable()
export class KeyExpiryWatcher implements OnApplicationShutdown {
  private readonly logger = new Logger(KeyExpiryWatcher.name);
  private readonly listeners = new Map<KeyExpiredListener, string>();
  private readonly modeListeners = new Set<(enabled: boolean) => void>();
  private readonly topology: RedisTopology;
  private readonly channel: string;
  private sub: Redis | null = null;
  private on = false;
  private closed = false;
  private logged = false;

  constructor(config: ConfigService<AppConfig, true>) {
    this.topology = config.get('redis', { infer: true });
    this.channel = `__keyevent@${redisDatabase(this.topology)}__:expired`;
  }

  /** Whether expiry events are being received (else callers must poll). */
  get enabled(): boolean {
    return this.on;
  }

  /**
   * Calls `listener` with every expired key that starts with `prefix`; `onMode` is told
   * whether events flow (at once, and again when that changes, e.g. after a Redis restart
   * with another configuration). Returns the unsubscribe.
   */
  watch(prefix: string, listener: KeyExpiredListener, onMode?: (enabled: boolean) => void): () => void {
    this.listeners.set(listener, prefix);
    if (onMode) {
      this.modeListeners.add(onMode);
      onMode(this.on);
    }
    this.ensureConnection();
    return () => {
      this.listeners.delete(listener);
      if (onMode) this.modeListeners.delete(onMode);
    };
  }

  onApplicationShutdown(): void {
    this.closed = true;
    this.listeners.clear();
    this.modeListeners.clear();
    if (this.sub) closeDedicatedRedis(this.sub);
    this.sub = null;
  }

  private ensureConnection(): void {
    if (this.sub || this.closed) return;
    // Under Cluster too: keyspace events are published on the node that expired the key,
    // and this connection, like every one of the hub's, is on the primary serving the hub's
    // slot, where all of its keys live (cluster-slot-connector.ts).
    const sub = dedicatedRedis(this.topology, 'key-expiry-watcher');
    this.sub = sub;
    sub.on('message', (_channel: string, key: string) => this.dispatch(key));
    // Checked on every (re)connect: the server may have restarted with another configuration.
    sub.on('ready', () => void this.checkMode(sub));
  }

  private async checkMode(sub: Redis): Promise<void> {
    let flags = '';
    try {
      // A subscribed connection cannot run CONFIG: ask with a short-lived duplicate.
      const probe = sub.duplicate({ connectionName: 'key-expiry-watcher-probe', maxRetriesPerRequest: 1 });
      // Its failures reach us as the rejected CONFIG below; unheard, an 'error' (a connect
      // reset when Redis goes away just as the subscriber came back) printed a stack trace.
      probe.on('error', () => undefined);
      try {
        const reply = (await probe.config('GET', 'notify-keyspace-events')) as string[];
        flags = reply[1] ?? '';
      } finally {
        probe.disconnect();
      }
    } catch (err) {
      // Managed Redis may refuse CONFIG; then we cannot tell and assume the events are off.
      this.logger.warn(`Cannot read notify-keyspace-events (${errorMessage(err)}); lease takeover falls back to polling`);
    }
    const enabled = expiredEventsEnabled(flags);
    if (enabled) {
      await sub.subscribe(this.channel).catch((err: unknown) => this.logger.warn(`Subscribing to ${this.channel} failed: ${errorMessage(err)}`));
    }
    if (this.closed) return;
    if (enabled !== this.on || !this.logged) {
      this.logged = true;
      if (enabled) this.logger.log(`Redis keyspace notifications for expired keys are on: standbys take over a dead holder's lease as it expires`);
      else this.logger.warn(`Redis notify-keyspace-events is "${flags}" (no "Ex"): standbys notice an expired lease by polling only (slower takeover; see docs/operations.md)`);
    }
    this.on = enabled;
    for (const fn of this.modeListeners) fn(enabled);
  }

  private dispatch(key: string): void {
    for (const [listener, prefix] of this.listeners) {
      if (!key.startsWith(prefix)) continue;
      try {
        listener(key);
      } catch (err) {
        this.logger.error(`Key-expiry listener for ${prefix} threw: ${errorMessage(err)}`);
      }
    }
  }
}
