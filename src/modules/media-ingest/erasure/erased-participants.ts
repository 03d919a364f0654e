import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';
import { FAILED_MEDIA_JOB_KEEP_SEC } from '../../../jobs/job-options';
import { MAX_AGE_MS as SPILL_MAX_AGE_MS } from '../pipeline/media-spill';

/**
 * Who was erased from which session, and when: so that media of theirs received before
 * the erasure and saved only after it is refused. An erasure deletes what is stored and
 * makes a second pass for what was in flight, but a media batch can land much later: one
 * waiting for storage to come back (up to STORAGE_RETRY_WINDOW_SEC), or left in a worker's
 * spill while Redis was down (up to a day). Media received after the erasure is new
 * capture and is kept, as for audio (docs/retention.md).
 *
 * One Redis hash per session, user id → erasure time (epoch ms, the latest), kept for as
 * long as such a late save can come: see erasedMarkerTtlSec.
 */
@Injectable()
export class ErasedParticipants {
  private readonly prefix: string;
  private readonly ttlSec: number;

  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis, config: ConfigService<AppConfig, true>) {
    this.prefix = `${config.get('queues', { infer: true }).prefix}:media-erased`;
    this.ttlSec = erasedMarkerTtlSec(config.get('storage', { infer: true }).retry.windowMs);
  }

  /** Marks the users erased from the session as of `at` (media they sent up to then is refused from now on). */
  async mark(sessionId: string, userIds: string[], at = Date.now()): Promise<void> {
    if (userIds.length === 0) return;
    const key = this.key(sessionId);
    // The latest time wins (an erasure run again later): compare and set in one script.
    await this.redis.eval(MARK_SCRIPT, 1, key, String(at), String(this.ttlSec), ...userIds);
  }

  /** For each session asked about: user id → erasure time (sessions with nobody erased are left out). */
  async of(sessionIds: string[]): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    const ids = [...new Set(sessionIds)];
    if (ids.length === 0) return out;
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.key(id));
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([err, value], i) => {
      if (err) throw err;
      const fields = value as Record<string, string>;
      const users = Object.entries(fields);
      if (users.length > 0) out.set(ids[i], new Map(users.map(([user, at]) => [user, Number(at)])));
    });
    return out;
  }

  private key(sessionId: string): string {
    return `${this.prefix}:${sessionId}`;
  }
}

/**
 * How long a session's erased marker is kept: the longest a batch received before the
 * erasure can still reach a saver. It may wait in a spill (a day), then for storage (the
 * retry window), then fail for good and stay in Redis with its media as a failed job,
 * which Bull Board can retry (FAILED_MEDIA_JOB_KEEP_SEC); plus an hour.
 */
export function erasedMarkerTtlSec(storageRetryWindowMs: number): number {
  return Math.ceil((SPILL_MAX_AGE_MS + storageRetryWindowMs + FAILED_MEDIA_JOB_KEEP_SEC * 1000 + 3_600_000) / 1000);
}

const MARK_SCRIPT = `
local at = tonumber(ARGV[1])
for i = 3, #ARGV do
  local prev = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if at > prev then redis.call('HSET', KEYS[1], ARGV[i], ARGV[1]) end
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1`;
