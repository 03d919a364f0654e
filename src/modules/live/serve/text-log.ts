import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { isRecord } from '../../../common/types/is-record';
import { compareEntryIds, isTextMedia, LiveMedia, LiveTextEntry, TEXT_ENTRY_FIELD } from '../live-protocol';
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

/** Where resuming after `requested` misses entries the log no longer holds. */
export interface ResumeGap {
  oldestAvailable: string | null;
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
   * A gap when the log no longer holds some entry newer than `requested`; null when
   * nothing is missing or there is no log. XDEL records max-deleted-entry-id (Redis 7)
   * but trimming (XADD MINID, XTRIM) does not, so a trimmed log counts as a gap for any
   * resume point before its first entry — including, rarely and harmlessly, the very
   * last id trimmed.
   */
  async gapAfter(sessionId: string, requested: string): Promise<ResumeGap | null> {
    let info: unknown[];
    try {
      info = (await this.redis.xinfo('STREAM', this.settings.keys.textLog(sessionId))) as unknown[];
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return null;
      throw err;
    }
    const field = (name: string): unknown => {
      for (let i = 0; i + 1 < info.length; i += 2) if (info[i] === name) return info[i + 1];
      return undefined;
    };
    const first = field('first-entry');
    const firstId = Array.isArray(first) && typeof first[0] === 'string' ? first[0] : null;
    const maxDeleted = field('max-deleted-entry-id');
    const deletedOne = typeof maxDeleted === 'string' && compareEntryIds(maxDeleted, requested) > 0;
    const trimmed = Number(field('entries-added')) > Number(field('length'));
    const lastGenerated = field('last-generated-id');
    const beforeWhatIsLeft = firstId !== null ? compareEntryIds(requested, firstId) < 0 : typeof lastGenerated === 'string' && compareEntryIds(requested, lastGenerated) < 0;
    if (!deletedOne && !(trimmed && beforeWhatIsLeft)) return null;
    return { oldestAvailable: firstId };
  }
}
