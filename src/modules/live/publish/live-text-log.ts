import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { TurnBatcher } from '../../../common/async/turn-batcher';
import { errorMessage } from '../../../common/errors/error-message';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';
import { LiveKeys, liveKeys, LiveTextEntry, LOG_EXPIRY_GRACE_MS, TEXT_ENTRY_FIELD, trimArgs } from '../live-protocol';
import { APPEND_APP_EVENT_ONCE } from './append-app-event.lua';
import { DistinctErrorLog } from '../../../common/logging/distinct-error-log';
import { isRedisConnectionError } from '../../../common/logging/redis-outage-log';
import { LivePublishMetrics } from './live-publish-metrics';

/** Entries kept in memory while Redis refuses writes; past it the oldest go (and are counted). */
export const TEXT_BUFFER_CAP = 10_000;
/** Entries per pipeline: a long backlog after an outage is written in bounded round trips. */
const MAX_ENTRIES_PER_WRITE = 500;
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;
/** Sessions this process remembers having announced (re-announcing one is harmless). */
const ANNOUNCED_CAP = 10_000;
/** How often this process drops sessions with no text for a window from the active set. */
const ACTIVE_TRIM_EVERY_MS = 10_000;

/** Entries of a batch that did not reach Redis (retried, in order), and why. */
interface Unwritten {
  entries: LiveTextEntry[];
  reason: string;
}

/**
 * Replies that say "not now" rather than "not this entry": the server is loading its
 * data, was demoted, or a Cluster slot is moving. Retried like a connection error.
 */
const TRANSIENT_REPLY = /^(?:LOADING|READONLY|TRYAGAIN|MASTERDOWN|CLUSTERDOWN)\b/;

/** A failed command worth retrying: Redis could not be reached (or dropped the connection mid-pipeline), or said "not now". */
function isTransientWriteError(err: Error): boolean {
  // ioredis aborts the rest of a pipeline cut by a connection close with an AbortError ("Command aborted due to connection close").
  return err.name === 'AbortError' || isRedisConnectionError(err.message) || TRANSIENT_REPLY.test(err.message);
}

interface AppEventAppend {
  eventId: string;
  entry: LiveTextEntry;
}

/**
 * The writing side of each session's text log (a Redis Stream of LiveTextEntry, see
 * live-protocol.ts). `append` never waits and never throws: entries of one event-loop turn
 * go to Redis in one pipeline, in the order they were appended; while Redis fails they
 * wait in a bounded buffer and are retried with backoff, still in order (one write in
 * flight at a time is what keeps the order). TurnBatcher does not fit that path — it runs
 * overlapping flushes and rejects its callers — but it groups the app events, whose
 * callers (fan-out jobs) must learn of a failure to retry.
 */
@Injectable()
export class LiveTextLog implements BeforeApplicationShutdown {
  private readonly logger = new Logger(LiveTextLog.name);
  private readonly failures = new DistinctErrorLog(this.logger, 'Writing the live text log');
  private readonly keys: LiveKeys;
  private readonly windowMs: number;
  /** TEXT_BUFFER_CAP (tests lower it). */
  bufferCap = TEXT_BUFFER_CAP;
  private buffer: LiveTextEntry[] = [];
  private writing: Promise<boolean> | null = null;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = 0;
  private readonly announced = new Set<string>();
  /** Sessions whose log expiry and active-set entry the last write could not set (Redis went away mid-pipeline). */
  private readonly untouched = new Set<string>();
  private lastActiveTrim = 0;
  private readonly appEvents: TurnBatcher<AppEventAppend, string | null | Error>;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: ConfigService<AppConfig, true>,
    private readonly metrics: LivePublishMetrics,
  ) {
    this.keys = liveKeys(config.get('queues', { infer: true }).prefix);
    this.windowMs = config.get('live', { infer: true }).resumeWindowSec * 1000;
    this.appEvents = new TurnBatcher((inputs) => this.writeAppEvents(inputs));
  }

  /** Queues an entry for its session's log (written this turn, or retried after a failure). */
  append(entry: LiveTextEntry): void {
    this.buffer.push(entry);
    if (this.buffer.length > this.bufferCap) this.dropOldest(this.buffer.length - this.bufferCap);
    if (this.retryTimer) this.metrics.textBuffered.set(this.buffer.length);
    else this.schedule();
  }

  /**
   * Appends an app event (outbox) to its session's log exactly once per event id,
   * however often it is called: true when this call appended it. Throws when Redis
   * failed, so the caller's job retries.
   */
  async appendAppEvent(eventId: string, entry: LiveTextEntry): Promise<boolean> {
    const result = await this.appEvents.run({ eventId, entry });
    if (result instanceof Error) throw result;
    return result !== null;
  }

  /** Entries waiting to be written. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Writes what is buffered (best effort: gives up at the deadline or on the first failure). */
  async flush(deadlineMs = 2_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    this.clearRetry();
    while (this.buffer.length > 0 && Date.now() < deadline) {
      if (!(await this.writeOnce())) break;
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    // Streams have ended by now (RunningStreams aborts them in onModuleDestroy), and the
    // shared Redis client closes in onApplicationShutdown: this is the last chance.
    await this.flush();
    this.clearRetry();
    if (this.buffer.length > 0) this.logger.warn(`Shutting down with ${this.buffer.length} live text entries not written`);
  }

  private schedule(): void {
    if (this.scheduled || this.writing || this.retryTimer) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.writeOnce();
    });
  }

  /** One pipeline for the head of the buffer (or the one already in flight); true when it was written. */
  private writeOnce(): Promise<boolean> {
    if (this.writing) return this.writing;
    if (this.buffer.length === 0) return Promise.resolve(true);
    const batch = this.buffer.splice(0, MAX_ENTRIES_PER_WRITE);
    this.writing = this.writeEntries(batch)
      .catch((err: unknown): Unwritten => ({ entries: batch, reason: errorMessage(err) }))
      .then((unwritten) => {
        if (unwritten === null) {
          this.retryDelayMs = 0;
          this.failures.recovered();
          return true;
        }
        // Back in front, in order; the cap still holds (the oldest go first).
        this.buffer = unwritten.entries.concat(this.buffer);
        if (this.buffer.length > this.bufferCap) this.dropOldest(this.buffer.length - this.bufferCap);
        this.metrics.errors.inc({ kind: 'text' });
        this.failures.failed(unwritten.reason);
        this.retryLater();
        return false;
      })
      .then((ok) => {
        this.writing = null;
        this.metrics.textBuffered.set(this.buffer.length);
        if (ok && this.buffer.length > 0) this.schedule();
        return ok;
      });
    return this.writing;
  }

  /**
   * Writes a batch in one pipeline; null when Redis took every entry (or refused one for
   * itself), else the entries it could not be reached for. ioredis does not reject a
   * pipeline when the connection is down or drops: each command fails on its own ("Stream
   * isn't writeable", "Connection is closed.", aborted). The first entry that fails that
   * way and every later one go back to the buffer, in order, for a retry; only an entry
   * Redis itself answered with an error is dropped (and counted).
   */
  private async writeEntries(batch: LiveTextEntry[]): Promise<Unwritten | null> {
    const now = Date.now();
    const trim = trimArgs(now, this.windowMs);
    const pipeline = this.redis.pipeline();
    const jsons = batch.map((e) => JSON.stringify(e));
    batch.forEach((e, i) => pipeline.xadd(this.keys.textLog(e.session_id), ...trim, '*', TEXT_ENTRY_FIELD, jsons[i]));
    const sessions = [...new Set([...batch.map((e) => e.session_id), ...this.untouched])];
    const toAnnounce = sessions.filter((s) => !this.announced.has(s));
    const touchAt = pipeline.length;
    this.touchSessions(pipeline, sessions, now);
    const announceAt = pipeline.length;
    for (const s of toAnnounce) pipeline.publish(this.keys.announce, s);
    const commands = pipeline.length;
    const results = (await pipeline.exec()) ?? [];
    // No answer at all (not something ioredis does for a plain pipeline): retry the batch.
    if (results.length < commands) return { entries: batch, reason: 'no reply from Redis' };
    const failed = (i: number): Error | null => results[i][0];
    // A session whose expiry or active-set entry did not reach Redis is touched again by the next write.
    sessions.forEach((s, k) => {
      if (failed(touchAt + 2 * k) || failed(touchAt + 2 * k + 1)) this.untouched.add(s);
      else this.untouched.delete(s);
    });
    toAnnounce.forEach((s, k) => !failed(announceAt + k) && this.remember(s));
    for (let i = 0; i < batch.length; i++) {
      const err = failed(i);
      if (err && isTransientWriteError(err)) return { entries: batch.slice(i), reason: err.message };
      if (err) {
        // Redis refused this entry itself (not the connection): retrying would not help.
        this.metrics.errors.inc({ kind: 'text_dropped' });
        this.failures.failed(`entry refused: ${err.message}`);
        continue;
      }
      this.metrics.published.inc({ media: batch[i].media });
      this.metrics.bytes.inc({ media: batch[i].media }, Buffer.byteLength(jsons[i]));
    }
    return null;
  }

  private async writeAppEvents(inputs: AppEventAppend[]): Promise<Array<string | null | Error>> {
    const now = Date.now();
    const [, , minId] = trimArgs(now, this.windowMs);
    const logTtlMs = this.windowMs + LOG_EXPIRY_GRACE_MS;
    const pipeline = this.redis.pipeline();
    const jsons = inputs.map(({ entry }) => JSON.stringify(entry));
    inputs.forEach(({ eventId, entry }, i) => {
      pipeline.eval(
        APPEND_APP_EVENT_ONCE,
        3,
        this.keys.appEventLogged(eventId),
        this.keys.textLog(entry.session_id),
        this.keys.activeSessions,
        Math.ceil(logTtlMs / 1000),
        minId,
        TEXT_ENTRY_FIELD,
        jsons[i],
        now,
        entry.session_id,
        logTtlMs,
      );
    });
    const toAnnounce = [...new Set(inputs.map((i) => i.entry.session_id))].filter((s) => !this.announced.has(s));
    for (const s of toAnnounce) pipeline.publish(this.keys.announce, s);
    let results: Array<[Error | null, unknown]>;
    try {
      results = (await pipeline.exec()) ?? [];
    } catch (err) {
      this.metrics.errors.inc({ kind: 'app_event' }, inputs.length);
      throw err;
    }
    for (const s of toAnnounce) this.remember(s);
    return inputs.map(({ entry }, i) => {
      const [err, id] = results[i] ?? [new Error('no reply'), null];
      if (err) {
        this.metrics.errors.inc({ kind: 'app_event' });
        return err;
      }
      if (typeof id !== 'string') return null;
      this.metrics.published.inc({ media: entry.media });
      this.metrics.bytes.inc({ media: entry.media }, Buffer.byteLength(jsons[i]));
      return id;
    });
  }

  /** Each session's log expires a grace after the window unless written again; `all` readers find it in the active set. */
  private touchSessions(pipeline: ReturnType<Redis['pipeline']>, sessions: string[], now: number): void {
    for (const s of sessions) {
      pipeline.pexpire(this.keys.textLog(s), this.windowMs + LOG_EXPIRY_GRACE_MS);
      pipeline.zadd(this.keys.activeSessions, now, s);
    }
    if (now - this.lastActiveTrim >= ACTIVE_TRIM_EVERY_MS) {
      this.lastActiveTrim = now;
      pipeline.zremrangebyscore(this.keys.activeSessions, '-inf', `(${now - this.windowMs}`);
    }
  }

  private remember(sessionId: string): void {
    this.announced.add(sessionId);
    if (this.announced.size > ANNOUNCED_CAP) this.announced.delete(this.announced.values().next().value as string);
  }

  private dropOldest(n: number): void {
    this.buffer.splice(0, n);
    this.metrics.errors.inc({ kind: 'text_dropped' }, n);
  }

  private retryLater(): void {
    this.retryDelayMs = Math.min(RETRY_MAX_MS, this.retryDelayMs === 0 ? RETRY_BASE_MS : this.retryDelayMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.writeOnce();
    }, this.retryDelayMs);
    this.retryTimer.unref();
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
