import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { LiveSettings } from './live-settings';

const REFRESH_MS = 1000;
/** A session seen (announced) this recently is kept even if a ZSET read that raced its first write misses it. */
const REMOVE_GRACE_MS = 10_000;

export type ActiveSessionsListener = (added: string[], removed: string[]) => void;

/**
 * The sessions `all` text subscribers read: those in the activeSessions ZSET whose
 * latest text is inside the resume window, re-read every second (and a session is
 * added at once when announced). Runs only while someone here subscribes to `all`.
 */
@Injectable()
export class ActiveSessions implements OnApplicationShutdown {
  private readonly logger = new Logger(ActiveSessions.name);
  /** Active session → when this process first saw it. */
  private known = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private listener: ActiveSessionsListener = () => undefined;
  private inFlight: Promise<void> | null = null;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly settings: LiveSettings,
  ) {}

  onApplicationShutdown(): void {
    this.setWatching(false);
  }

  setListener(listener: ActiveSessionsListener): void {
    this.listener = listener;
  }

  get watching(): boolean {
    return this.timer !== undefined;
  }

  setWatching(on: boolean): void {
    if (on && !this.timer) {
      this.timer = setInterval(() => void this.refresh().catch((err: Error) => this.logger.warn(`Reading active sessions failed: ${err.message}`)), REFRESH_MS);
    } else if (!on && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.known = new Map();
    }
  }

  /** The active sessions now (read fresh; newly seen ones are also reported to the listener). */
  async current(): Promise<string[]> {
    await this.refresh();
    return [...this.known.keys()];
  }

  /** A publisher announced a session's first text. */
  announced(sessionId: string): void {
    if (!this.timer || this.known.has(sessionId)) return;
    this.known.set(sessionId, Date.now());
    this.listener([sessionId], []);
  }

  private refresh(): Promise<void> {
    // One read at a time; callers arriving meanwhile share it.
    this.inFlight ??= this.read().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private async read(): Promise<void> {
    const since = Date.now() - this.settings.config.resumeWindowSec * 1000;
    const ids = await this.redis.zrangebyscore(this.settings.keys.activeSessions, since, '+inf');
    if (!this.timer) return;
    const now = Date.now();
    const active = new Set(ids);
    const added = ids.filter((s) => !this.known.has(s));
    const removed = [...this.known].filter(([s, seenAt]) => !active.has(s) && now - seenAt > REMOVE_GRACE_MS).map(([s]) => s);
    for (const s of added) this.known.set(s, now);
    for (const s of removed) this.known.delete(s);
    if (added.length > 0 || removed.length > 0) this.listener(added, removed);
  }
}
