import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../common/redis/redis.module';
import { AppConfig } from '../../config/app.config';

/**
 * Reserves the next free send slot (GCRA / "virtual scheduling"). The clock is Redis's
 * own (TIME), so every process agrees on it. KEYS[1] = the account's schedule key;
 * ARGV = interval ms, longest wait ms worth reserving. Returns the wait in ms (>= 0,
 * slot reserved) or -(wait) when the wait is longer than allowed (nothing reserved).
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local maxWait = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, tat)
local wait = start - now
if wait > maxWait then return -wait end
redis.call('SET', KEYS[1], start + interval, 'PX', wait + interval + 60000)
return wait
`;

/** Pushes the schedule back (a 429's Retry-After applies to every process). */
const PENALIZE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > tat then redis.call('SET', KEYS[1], until_, 'PX', tonumber(ARGV[1]) + 60000) end
return until_
`;

/** Share of the configured limit actually used, so jitter never bunches 3 calls into one second. */
export const RATE_HEADROOM = 0.9;

export function slotIntervalMs(ratePerSec: number): number {
  return Math.ceil(1000 / (ratePerSec * RATE_HEADROOM));
}

/**
 * Cluster-wide throttle of the account's Zoom Rooms API calls (GET /rooms and PATCH
 * /rooms/{id}/events share one per-account limit, "Medium": 2/20/60 req/s by plan).
 *
 * Every caller in every process (API and workers) reserves a slot in one Redis key
 * before it sends, and slots are spaced evenly at 1/(0.9 × limit) s. Unlike a fixed
 * window or a per-job limiter, this spaces the HTTP requests themselves (not job
 * starts), so no second of wall-clock time ever sees more than the limit, and a 429's
 * Retry-After pauses everybody (penalize).
 */
@Injectable()
export class RoomsRateLimiter {
  private readonly key: string;
  readonly intervalMs: number;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: ConfigService<AppConfig, true>,
  ) {
    const zoom = config.get('zoom', { infer: true });
    this.key = `${config.get('queues', { infer: true }).prefix}:zoom-rooms:rate:${zoom.accountId ?? 'default'}`;
    this.intervalMs = slotIntervalMs(config.get('zoomRooms', { infer: true }).rateLimitPerSec);
  }

  /**
   * Reserves a slot if it is at most `maxWaitMs` away. Returns `{ waitMs }` (sleep that
   * long, then send) or `{ reserved: false, waitMs }` (nothing reserved; come back later).
   */
  async reserve(maxWaitMs: number): Promise<{ reserved: boolean; waitMs: number }> {
    const result = Number(await this.redis.eval(RESERVE, 1, this.key, this.intervalMs, Math.max(0, Math.floor(maxWaitMs))));
    return result < 0 ? { reserved: false, waitMs: -result } : { reserved: true, waitMs: result };
  }

  /** Reserves a slot and waits for it (for the API's list calls: short, bounded waits). */
  async acquire(maxWaitMs: number): Promise<number> {
    const { reserved, waitMs } = await this.reserve(maxWaitMs);
    if (!reserved) throw new RoomsRateLimitedError(waitMs);
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
    return waitMs;
  }

  /** After a 429: nobody sends before `ms` from now. */
  async penalize(ms: number): Promise<void> {
    await this.redis.eval(PENALIZE, 1, this.key, Math.max(0, Math.floor(ms)));
  }
}

/** The shared schedule is full further ahead than the caller may wait. */
export class RoomsRateLimitedError extends Error {
  constructor(readonly waitMs: number) {
    super(`Zoom Rooms API calls are scheduled ${waitMs} ms ahead`);
    this.name = 'RoomsRateLimitedError';
  }
}
