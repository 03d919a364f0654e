import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import Redis from 'ioredis';
import { RELEASE_IF_HOLDER, RENEW_IF_HOLDER } from '../../../common/redis/lease-scripts';

/**
 * The Redis lease that makes one process across the deployment the holder of the event
 * WebSocket for a subscription: SET NX PX to take it, a compare-and-set script to renew
 * it, compare-and-delete to release it. A holder that dies stops renewing and the lease
 * expires after its TTL; the next candidate takes it.
 */
export class EventWsLease {
  /** Unique per process start; `host:pid:random` so an operator can see who holds it. */
  readonly holderId = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly ttlMs: number,
  ) {}

  async tryAcquire(): Promise<boolean> {
    return (await this.redis.set(this.key, this.holderId, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  /** True while we still hold it (TTL extended); false once someone else does. */
  async renew(): Promise<boolean> {
    return Number(await this.redis.eval(RENEW_IF_HOLDER, 1, this.key, this.holderId, String(this.ttlMs))) === 1;
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE_IF_HOLDER, 1, this.key, this.holderId);
  }

  async currentHolder(): Promise<string | null> {
    return this.redis.get(this.key);
  }
}
