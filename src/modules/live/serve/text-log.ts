import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { isRecord } from '../../../common/types/is-record';
import { compareEntryIds, isTextMedia, LiveMedia, LiveTextEntry, LOG_EXPIRY_GRACE_MS, TEXT_ENTRY_FIELD } from '../live-protocol';
import { LiveSettings } from './live-settings';

/** A text log entry as read from Redis: parsed once per process, then matched per subscription. */
export interface LogEntry {
  id: string;
  entry: LiveTextEntry;
  /** Size of the stored JSON: what holding it in memory costs. */
  bytes: number;
}

/** A stream entry as ioredis returns it: [id, [field, value, …]]. */
export type RawStreamEntry = [string, string[]];

/** The entry, or null when it is not a well-formed LiveTextEntry (skipped, never sent). */
export function parseLogEntry([id, fields]: RawStreamEntry): LogEntry | null {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] !== TEXT_ENTRY_FIELD) continue;
    const json = fields[i + 1];
    try {
      const entry: unknown = JSON.parse(json);
      if (!isRecord(entry) || typeof entry.media !== 'string' || !isTextMedia(entry.media as LiveMedia) || !isRecord(entry.data)) return null;
      return { id, entry: entry as unknown as LiveTextEntry, bytes: json.length };
    } catch {
      return null;
    }
  }
  return null;
}

export function parseLogEntries(raw: readonly RawStreamEntry[]): LogEntry[] {
  const out: LogEntry[] = [];
  for (const r of raw) {
    const e = parseLogEntry(r);
    if (e) out.push(e);
  }
  return out;
}

/** Where resuming after `requested` misses entries the log no longer holds (or cannot be shown to hold). */
export interface ResumeGap {
  /** The log's first entry now, or null when it holds none. */
  oldestAvailable: string | null;
  /**
   * `requested` is not an id of this log: beyond every id it ever generated (a log that
   * was lost and began again, or an id from elsewhere), or there is no log. The replay
   * (and live delivery) must then start from the log's first entry, not after `requested`.
   */
  fromStart: boolean;
}

/** Reads of the per-session text logs on the shared command connection (replay, starting points, gaps). */
@Injectable()
export class TextLog {
  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly settings: LiveSettings,
  ) {}

  /** Up to `count` entries after `afterId` (exclusive), oldest first. */
  async range(sessionId: string, afterId: string, count: number): Promise<{ entries: LogEntry[]; read: number; lastId: string | null }> {
    const raw = (await this.redis.xrange(this.settings.keys.textLog(sessionId), `(${afterId}`, '+', 'COUNT', count)) as RawStreamEntry[];
    return { entries: parseLogEntries(raw), read: raw.length, lastId: raw.length > 0 ? raw[raw.length - 1][0] : null };
  }

  /** Each session's newest entry id ('0-0' for a log that does not exist yet): where live reading starts. */
  async lastIds(sessionIds: readonly string[]): Promise<string[]> {
    const pipeline = this.redis.pipeline();
    for (const s of sessionIds) pipeline.xrevrange(this.settings.keys.textLog(s), '+', '-', 'COUNT', 1);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, value]) => {
      if (err) throw err;
      const entries = value as RawStreamEntry[];
      return entries.length > 0 ? entries[0][0] : '0-0';
    });
  }

  /**
   * Null only when the log provably holds every entry after `requested`: its history
   * reaches back to it. Otherwise a gap:
   * - no log: it expired or was lost with what it held (fromStart; a resume from `0`,
   *   "from the start", has nothing to miss then);
   * - `requested` is beyond the last id the log generated: fromStart;
   * - an entry after `requested` was deleted (XDEL: max-deleted-entry-id, Redis 7);
   * - `requested` is before the first entry, and the log was trimmed since it was created
   *   (entries-added > length), or it was created too long after `requested` to be the
   *   same log: one that held entries after `requested` could have expired in between
   *   (a log expires LOG_EXPIRY_GRACE_MS after the window following its last write). A
   *   log first written soon after `requested` (a session that started while the client
   *   was away) is the only log the session had since. Without entries-added (Redis < 7)
   *   any `requested` before the first entry counts as a gap.
   * The trim leaves no trace of the last id it removed, so a resume from exactly that id
   * is reported too (rarely, and harmlessly).
   */
  async gapAfter(sessionId: string, requested: string): Promise<ResumeGap | null> {
    const fromBeginning = entryIdMs(requested) === 0n;
    let info: unknown[];
    try {
      info = (await this.redis.xinfo('STREAM', this.settings.keys.textLog(sessionId))) as unknown[];
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return fromBeginning ? null : { oldestAvailable: null, fromStart: true };
      throw err;
    }
    const field = (name: string): unknown => {
      for (let i = 0; i + 1 < info.length; i += 2) if (info[i] === name) return info[i + 1];
      return undefined;
    };
    const first = field('first-entry');
    const firstId = Array.isArray(first) && typeof first[0] === 'string' ? first[0] : null;
    const lastGenerated = field('last-generated-id');
    const gap = (fromStart = false): ResumeGap => ({ oldestAvailable: firstId, fromStart });
    if (typeof lastGenerated === 'string' && compareEntryIds(requested, lastGenerated) > 0) return gap(true);
    const maxDeleted = field('max-deleted-entry-id');
    if (typeof maxDeleted === 'string' && compareEntryIds(maxDeleted, requested) > 0) return gap();
    if (firstId === null) {
      // Every entry was trimmed: gone unless `requested` was the last one.
      return typeof lastGenerated === 'string' && compareEntryIds(requested, lastGenerated) < 0 ? gap() : null;
    }
    if (compareEntryIds(requested, firstId) >= 0) return null;
    const added = field('entries-added');
    if (added === undefined) return gap();
    if (Number(added) > Number(field('length'))) return gap();
    if (fromBeginning) return null;
    return entryIdMs(firstId) - entryIdMs(requested) >= BigInt(this.logLifeMs) ? gap() : null;
  }

  /** How long a log outlives its last write: a log first written later than this after an id cannot be the one that held it. */
  private get logLifeMs(): number {
    return this.settings.config.resumeWindowSec * 1000 + LOG_EXPIRY_GRACE_MS;
  }
}

/** The time part of an entry id (ms). */
function entryIdMs(id: string): bigint {
  const dash = id.indexOf('-');
  return BigInt(dash < 0 ? id : id.slice(0, dash));
}
