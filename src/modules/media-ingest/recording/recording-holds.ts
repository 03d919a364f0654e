import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';

/** A hold key lives this long after its last change (a session's recording never takes a week to finish). */
const HOLD_TTL_SEC = 7 * 24 * 3600;

/**
 * Every media batch adds its hold to each of its sessions and releases it once saved:
 * one script call for all of them (a MULTI of two commands per session cost the stream
 * worker ≈ 1 ms of CPU per batch at 50 sessions, the script a quarter of it). Every key
 * shares the prefix's hash tag under Redis Cluster, so one script may touch them all.
 */
const ADD_HOLD = `for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[1], ARGV[2])
  redis.call('EXPIRE', key, ARGV[3])
end
return #KEYS`;
/** Removes the hold from each session; answers each session's holds left, in KEYS order. */
const RELEASE_HOLD = `local left = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREM', key, ARGV[1])
  left[i] = redis.call('ZCARD', key)
end
return left`;

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

  /** Adds `hold` to each session (one round trip, one command). */
  async add(sessionIds: Iterable<string>, hold: RecordingHold): Promise<void> {
    const keys = [...new Set(sessionIds)].map((id) => this.key(id));
    if (keys.length === 0) return;
    await this.redis.eval(ADD_HOLD, keys.length, ...keys, Date.now(), hold, HOLD_TTL_SEC);
  }

  /** Removes `hold` from each session; returns the sessions left with no hold (their recording may now be complete). */
  async release(sessionIds: Iterable<string>, hold: RecordingHold): Promise<string[]> {
    const ids = [...new Set(sessionIds)];
    if (ids.length === 0) return [];
    const left = (await this.redis.eval(RELEASE_HOLD, ids.length, ...ids.map((id) => this.key(id)), hold)) as number[];
    return ids.filter((_, i) => Number(left[i] ?? 1) === 0);
  }

  /** The session's holds (oldest first). */
  async list(sessionId: string): Promise<string[]> {
    return this.redis.zrange(this.key(sessionId), 0, -1);
  }
}
