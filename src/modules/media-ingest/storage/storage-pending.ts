import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';
import type { KindCounts } from './storage-errors';

/** One media batch waiting for storage: its first failure, retries so far, and what it holds. */
export interface PendingEntry {
  since: number;
  tries: number;
  bytes: number;
  items: KindCounts;
}

export interface PendingTotals {
  jobs: number;
  bytes: number;
  /** Items per kind. */
  items: KindCounts;
  /** Bytes per kind. */
  bytesByKind: KindCounts;
  /** The oldest first failure still waiting (ms since epoch), or null. */
  since: number | null;
}

// Adds the entry unless the job is already waiting (then returns the stored one), and
// only while the bytes waiting stay within the budget (else nil): one atomic step, so
// savers on many processes share one bound.
const ADD = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then return cur end
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
if total + tonumber(ARGV[3]) > tonumber(ARGV[4]) then return false end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCRBY', KEYS[2], ARGV[3])
return ARGV[2]`;

const REMOVE = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local left = redis.call('DECRBY', KEYS[2], tonumber(cjson.decode(cur).bytes) or 0)
if left <= 0 then redis.call('DEL', KEYS[2]) end
return 1`;

/**
 * What waits for storage, for the whole hub: one Redis hash entry per media-frames job
 * held back by a storage outage (its payload stays in Redis as a delayed job), plus their
 * byte total, which the budget (STORAGE_PENDING_MAX_BYTES) bounds. Read by readiness,
 * the metrics and the outage log line.
 */
@Injectable()
export class StoragePendingLedger {
  private readonly hashKey: string;
  private readonly totalKey: string;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: ConfigService<AppConfig, true>,
  ) {
    const prefix = config.get('queues', { infer: true }).prefix;
    this.hashKey = `${prefix}:storage-pending`;
    this.totalKey = `${prefix}:storage-pending-bytes`;
  }

  /** Registers a job as waiting, within `maxBytes`; returns its entry (an existing one unchanged), or null when over budget. */
  async add(jobId: string, entry: PendingEntry, maxBytes: number): Promise<PendingEntry | null> {
    const raw = (await this.redis.eval(ADD, 2, this.hashKey, this.totalKey, jobId, JSON.stringify(entry), String(entry.bytes), String(maxBytes))) as string | null;
    return raw ? (JSON.parse(raw) as PendingEntry) : null;
  }

  /** Records one more retry of a waiting job. */
  async update(jobId: string, entry: PendingEntry): Promise<void> {
    await this.redis.hset(this.hashKey, jobId, JSON.stringify(entry));
  }

  async get(jobId: string): Promise<PendingEntry | null> {
    const raw = await this.redis.hget(this.hashKey, jobId);
    return raw ? (JSON.parse(raw) as PendingEntry) : null;
  }

  /** The job waits no more (saved, or given up). */
  async remove(jobId: string): Promise<boolean> {
    return (await this.redis.eval(REMOVE, 2, this.hashKey, this.totalKey, jobId)) === 1;
  }

  async entries(): Promise<Map<string, PendingEntry>> {
    const all = await this.redis.hgetall(this.hashKey);
    return new Map(Object.entries(all).map(([id, raw]) => [id, JSON.parse(raw) as PendingEntry]));
  }

  async totals(): Promise<PendingTotals> {
    return totalsOf((await this.entries()).values());
  }
}

export function totalsOf(entries: Iterable<PendingEntry>): PendingTotals {
  const t: PendingTotals = { jobs: 0, bytes: 0, items: {}, bytesByKind: {}, since: null };
  for (const e of entries) {
    t.jobs++;
    t.bytes += e.bytes;
    t.since = t.since === null ? e.since : Math.min(t.since, e.since);
    const n = Object.values(e.items).reduce((a, b) => a + b, 0) || 1;
    for (const [kind, count] of Object.entries(e.items)) {
      t.items[kind] = (t.items[kind] ?? 0) + count;
      // A batch's bytes are shared out by item count (a job carries one kind, frames excepted).
      t.bytesByKind[kind] = (t.bytesByKind[kind] ?? 0) + Math.round((e.bytes * count) / n);
    }
  }
  return t;
}
