import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { sleep } from '../../../common/async/sleep';
import { closeDedicatedRedis, dedicatedRedis } from '../../../common/redis/dedicated-redis';
import { isRedisConnectionError, redisOutage } from '../../../common/logging/redis-outage-log';
import { LiveSettings } from './live-settings';
import { LogEntry, parseLogEntries, RawStreamEntry, TextLog } from './text-log';

/** Longest a read blocks; an interrupt (CLIENT UNBLOCK) normally ends it sooner. */
const BLOCK_MS = 5000;
const READ_COUNT = 500;
const RETRY_MS = 500;
/** An UNBLOCK sent before the XREAD reached Redis finds nothing to unblock: try again this often, this many times. */
const UNBLOCK_RETRY_MS = 5;
const UNBLOCK_ATTEMPTS = 100;

export type LogEntriesHandler = (sessionId: string, entries: LogEntry[]) => void;

/**
 * This process's one reader of the text logs: a loop of XREAD BLOCK over every session
 * some client here reads text of, on a connection of its own. A session added to the
 * set starts at its log's newest id at that moment (callers replay what came before),
 * and a blocked read is interrupted so it is read at once.
 */
@Injectable()
export class TextLogReader implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(TextLogReader.name);
  /** Session → id of the last entry read. */
  private readonly positions = new Map<string, string>();
  /** Session → the lookup of its starting id, while it runs; untrack removes the session, which cancels its start. */
  private readonly starting = new Map<string, Promise<void>>();
  private readonly keyPrefixLength: number;
  private connection!: Redis;
  private connectionId: number | null = null;
  private handler: LogEntriesHandler = () => undefined;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  /** Set while the loop waits for its first session. */
  private wake: (() => void) | null = null;
  private reading = false;
  private readNumber = 0;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly settings: LiveSettings,
    private readonly log: TextLog,
  ) {
    this.keyPrefixLength = settings.keys.textLog('').length;
  }

  onModuleInit(): void {
    this.connection = dedicatedRedis(this.settings.redisTopology, 'live-reader');
    this.connection.on('ready', () => {
      this.connection.client('ID').then(
        (id) => (this.connectionId = Number(id)),
        () => (this.connectionId = null),
      );
    });
    this.running = true;
    this.loopDone = this.loop();
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wake?.();
    closeDedicatedRedis(this.connection);
    await this.loopDone;
  }

  setHandler(handler: LogEntriesHandler): void {
    this.handler = handler;
  }

  isReading(sessionId: string): boolean {
    return this.positions.has(sessionId);
  }

  /** The id of the last entry read for a session (its starting id until one is read); undefined when not read. */
  positionOf(sessionId: string): string | undefined {
    return this.positions.get(sessionId);
  }

  /**
   * Adds sessions to the read; resolves once each has its starting id. A session
   * untracked while its starting id is being looked up is not read: the late answer is
   * dropped, so a client that leaves in that gap leaves nothing behind.
   */
  async track(sessionIds: readonly string[]): Promise<void> {
    const waits = new Set<Promise<void>>();
    const fresh: string[] = [];
    for (const s of new Set(sessionIds)) {
      if (this.positions.has(s)) continue;
      const pending = this.starting.get(s);
      if (pending) waits.add(pending);
      else fresh.push(s);
    }
    if (fresh.length > 0) {
      const lookup: Promise<void> = this.log.lastIds(fresh).then(
        (lastIds) => this.started(fresh, lastIds, lookup),
        (err: unknown) => {
          for (const s of fresh) if (this.starting.get(s) === lookup) this.starting.delete(s);
          throw err;
        },
      );
      for (const s of fresh) this.starting.set(s, lookup);
      waits.add(lookup);
    }
    await Promise.all(waits);
  }

  /** Stops reading a session (the next read leaves it out; what is in flight for it is dropped), or cancels its start. */
  untrack(sessionId: string): void {
    this.positions.delete(sessionId);
    this.starting.delete(sessionId);
  }

  /** Sets the starting ids a lookup read, for the sessions still waiting on that lookup (not untracked since). */
  private started(sessionIds: readonly string[], lastIds: readonly string[], lookup: Promise<void>): void {
    let added = false;
    sessionIds.forEach((s, i) => {
      if (this.starting.get(s) !== lookup) return;
      this.starting.delete(s);
      this.positions.set(s, lastIds[i]);
      added = true;
    });
    if (added) this.interrupt();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (this.positions.size === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        continue;
      }
      const sessions = [...this.positions.keys()];
      const ids = sessions.map((s) => this.positions.get(s)!);
      let reply: Array<[string, RawStreamEntry[]]> | null;
      this.reading = true;
      this.readNumber++;
      try {
        reply = (await this.connection.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', ...sessions.map((s) => this.settings.keys.textLog(s)), ...ids)) as Array<[string, RawStreamEntry[]]> | null;
      } catch (err) {
        if (!this.running) return;
        const message = (err as Error).message;
        // Redis unreachable: one line per outage for the whole process.
        if (isRedisConnectionError(message)) redisOutage.failed(undefined, message);
        else this.logger.warn(`Reading the live text logs failed: ${message}`);
        await sleep(RETRY_MS);
        continue;
      } finally {
        this.reading = false;
      }
      if (!reply) continue;
      for (const [key, raw] of reply) {
        const sessionId = key.slice(this.keyPrefixLength);
        if (!this.positions.has(sessionId) || raw.length === 0) continue;
        this.positions.set(sessionId, raw[raw.length - 1][0]);
        const entries = parseLogEntries(raw);
        if (entries.length === 0) continue;
        try {
          this.handler(sessionId, entries);
        } catch (err) {
          this.logger.error(`Delivering live text of session ${sessionId} failed: ${(err as Error).message}`, (err as Error).stack);
        }
      }
    }
  }

  /** Makes the loop re-read its session set now: wakes it, or unblocks its XREAD. */
  private interrupt(): void {
    if (this.wake) {
      this.wake();
      return;
    }
    if (this.reading) void this.unblock(this.readNumber);
  }

  private async unblock(readNumber: number): Promise<void> {
    for (let i = 0; i < UNBLOCK_ATTEMPTS && this.running && this.reading && this.readNumber === readNumber; i++) {
      if (this.connectionId !== null) {
        const unblocked = await this.redis.client('UNBLOCK', this.connectionId).catch(() => 0);
        if (unblocked === 1) return;
      }
      await sleep(UNBLOCK_RETRY_MS);
    }
  }
}
