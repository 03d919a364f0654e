import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { errorMessage } from '../../../common/errors/error-message';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { AppConfig } from '../../../config/app.config';

/**
 * Takes a slot of an endpoint's semaphore. KEYS[1] = its in-flight set (member: a lease
 * token, score: when the lease runs out), KEYS[2] = its pause (a time: nothing is sent
 * before it). ARGV = the cap, the lease ms, the token. The clock is Redis's (TIME), so
 * every process agrees. Returns 1 (taken), 0 (every slot is taken), or -(ms) while paused.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return -(paused - now) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
`;

/** Nothing is sent to the endpoint for ARGV[1] ms (a later pause already set wins). */
const PAUSE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ = now + tonumber(ARGV[1])
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > paused then redis.call('SET', KEYS[1], until_, 'PX', tonumber(ARGV[1])) end
return until_
`;

/** A lease outlives its attempt by this much before it is taken back (a worker that died mid-attempt). */
const LEASE_MARGIN_MS = 10_000;
/** How soon a job turned away by a full endpoint comes back, about (±25 %). */
export const RECHECK_AFTER_MS = 1000;

export type InFlightSlot = { taken: true; release: () => Promise<void> } | { taken: false; retryAt: number; paused: boolean };

/**
 * Cluster-wide cap on the attempts in flight to one endpoint (WEBHOOK_ENDPOINT_MAX_IN_FLIGHT),
 * and the endpoint's pause after a 429 with Retry-After. Without it one endpoint that hangs
 * held CONCURRENCY_APP_WEBHOOKS slots of every worker for WEBHOOK_TIMEOUT_MS each, and every
 * other app's deliveries waited behind it. A lease expires on its own (the attempt's timeout
 * and a margin), so a worker that dies mid-attempt frees its slot.
 */
@Injectable()
export class EndpointInFlight {
  private readonly logger = new Logger(EndpointInFlight.name);
  private readonly prefix: string;
  private readonly max: number;
  private readonly leaseMs: number;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: ConfigService<AppConfig, true>,
  ) {
    const webhooks = config.get('appWebhooks', { infer: true });
    this.prefix = `${config.get('queues', { infer: true }).prefix}:app-webhooks:endpoint`;
    this.max = webhooks.endpointMaxInFlight;
    this.leaseMs = webhooks.timeoutMs + LEASE_MARGIN_MS;
  }

  /** Takes a slot for one attempt to the endpoint, or says when to come back (full or paused). */
  async acquire(endpointId: string, random: () => number = Math.random): Promise<InFlightSlot> {
    if (this.max <= 0) return { taken: true, release: async () => undefined };
    const token = randomUUID();
    const r = Number(await this.redis.eval(ACQUIRE, 2, this.inFlightKey(endpointId), this.pauseKey(endpointId), this.max, this.leaseMs, token));
    if (r === 1) return { taken: true, release: () => this.release(endpointId, token) };
    // Paused: back when the pause ends, spread over a tenth of a second more; full: in about a second.
    if (r < 0) return { taken: false, paused: true, retryAt: Date.now() - r + Math.round(random() * 100) };
    return { taken: false, paused: false, retryAt: Date.now() + Math.round(RECHECK_AFTER_MS * (0.75 + random() * 0.5)) };
  }

  /** Nothing more goes to the endpoint for `ms` (its 429's Retry-After), from any process. */
  async pause(endpointId: string, ms: number): Promise<void> {
    if (ms <= 0) return;
    await this.redis.eval(PAUSE, 1, this.pauseKey(endpointId), Math.ceil(ms));
  }

  private async release(endpointId: string, token: string): Promise<void> {
    // A release that fails (Redis away) is not the attempt's failure: the lease runs out on its own.
    await this.redis.zrem(this.inFlightKey(endpointId), token).catch((err: unknown) => this.logger.debug(`Could not release a slot of endpoint ${endpointId}: ${errorMessage(err)}`));
  }

  // One hash tag per endpoint: both keys in one Redis Cluster slot (the scripts use them together).
  private inFlightKey(endpointId: string): string {
    return `${this.prefix}:{${endpointId}}:in-flight`;
  }

  private pauseKey(endpointId: string): string {
    return `${this.prefix}:{${endpointId}}:paused-until`;
  }
}
