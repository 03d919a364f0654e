import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';
import type { StoredCategory } from '../../media-ingest';

/** What one sweep did (the job's return value, and the "last run" gauges). */
export interface RetentionRunStats {
  success: boolean;
  /** Session × category purges finished (one deletion_log entry each). */
  sessions: number;
  sessionsDeleted: number;
  objects: number;
  bytes: number;
  rows: number;
  durationMs: number;
  finishedAt: string | null;
  byCategory: Partial<Record<string, number>>;
  /** The process began shutting down: the sweep stopped between batches (the next one resumes). */
  interrupted?: boolean;
  /** Rows deleted by age, per table (unlinked Zoom events, app events, webhook messages, sequence counters, room dispatches); also in `rows`. */
  aged?: Partial<Record<string, number>>;
  /** Stored media of unheld sessions, per category, as measured at `storedAt` (at most every STORED_REFRESH_MS, so maybe by an earlier sweep). */
  stored?: Record<StoredCategory, { objects: number; bytes: number }>;
  storedAt?: string;
}

/**
 * The last sweep's stats, hub-wide: kept in Redis so whichever maintenance worker a
 * scrape reaches reports the sweep that ran last, wherever it ran.
 */
@Injectable()
export class RetentionStatsStore {
  private readonly key: string;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: ConfigService<AppConfig, true>,
  ) {
    this.key = `${config.get('queues', { infer: true }).prefix}:retention-sweep:last`;
  }

  async save(stats: RetentionRunStats): Promise<void> {
    await this.redis.set(this.key, JSON.stringify(stats));
  }

  async last(): Promise<RetentionRunStats | null> {
    const raw = await this.redis.get(this.key);
    return raw ? (JSON.parse(raw) as RetentionRunStats) : null;
  }
}
