import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';

/** A hold key lives this long after its last change (a session's recording never takes a week to finish). */
const HOLD_TTL_SEC = 7 * 24 * 3600;

/** What keeps a session's recording from being complete: a stream still draining, a media batch not saved yet. */
export type RecordingHold = `stream:${string}` | `batch:${string}`;

/**
 * The session's media still in flight, in Redis: one sorted set per session whose
 * members name what is not finished (score: when it started).
 *  - `stream:<rtms_stream_id>` from when a stream worker starts the stream until its
 *    batcher has enqueued its last items and its audio is spooled (the window in which
 *    the session may already be `stopped` but media sits in the worker's memory);
 *  - `batch:<batchId>` from just before a media-frames batch is enqueued until its saver
 *    finished it (or gave up on it).
 * Members are named, not counted: adding or removing one twice (a retried job, a
 * taken-over stream) changes nothing, so retries cannot drift a counter. What a crash
 * leaves behind is bounded by RecordingReadyService's deadline, never waited for forever.
 */
@Injectable()
export class RecordingHolds {
  private readonly prefix: string;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: ConfigService<AppConfig, true>,
  ) {
    this.prefix = `${config.get('queues', { infer: true }).prefix}:recording-holds:`;
  }

  private key(sessionId: string): string {
    return this.prefix + sessionId;
  }

  /** Adds `hold` to each session (one round trip). */
  async add(sessionIds: Iterable<string>, hold: RecordingHold): Promise<void> {
    const now = Date.now();
    const multi = this.redis.multi();
    for (const id of new Set(sessionIds)) multi.zadd(this.key(id), now, hold).expire(this.key(id), HOLD_TTL_SEC);
    await multi.exec();
  }

  /** Removes `hold` from each session; returns the sessions left with no hold (their recording may now be complete). */
  async release(sessionIds: Iterable<string>, hold: RecordingHold): Promise<string[]> {
    const ids = [...new Set(sessionIds)];
    if (ids.length === 0) return [];
    const multi = this.redis.multi();
    for (const id of ids) multi.zrem(this.key(id), hold).zcard(this.key(id));
    const res = (await multi.exec()) ?? [];
    return ids.filter((_, i) => Number(res[2 * i + 1]?.[1] ?? 1) === 0);
  }

  /** The session's holds (oldest first). */
  async list(sessionId: string): Promise<string[]> {
    return this.redis.zrange(this.key(sessionId), 0, -1);
  }
}
