import { Logger } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import type Redis from 'ioredis';
import type { AppConfig } from '../../config/app.config';
import { RELEASE_IF_HOLDER, RENEW_IF_HOLDER } from '../../common/redis/lease-scripts';
import { RefreshLease } from './refresh-lease';

/** The Redis commands a lease uses, with key expiry on jest's clock; `renewals` decides how a renewal is answered. */
function fakeRedis() {
  const keys = new Map<string, { token: string; until: number }>();
  const state = { renewals: 'answer' as 'answer' | 'hang' };
  const live = (key: string) => {
    const k = keys.get(key);
    if (k && k.until <= Date.now()) keys.delete(key);
    return keys.get(key);
  };
  const redis = {
    set: jest.fn(async (key: string, token: string, _px: string, ttl: number) => {
      if (live(key)) return null;
      keys.set(key, { token, until: Date.now() + ttl });
      return 'OK';
    }),
    eval: jest.fn(async (script: string, _n: number, key: string, token: string, ttl?: string) => {
      if (script === RENEW_IF_HOLDER) {
        if (state.renewals === 'hang') return new Promise(() => undefined);
        const k = live(key);
        if (k?.token !== token) return 0;
        k.until = Date.now() + Number(ttl);
        return 1;
      }
      if (script === RELEASE_IF_HOLDER && live(key)?.token === token) keys.delete(key);
      return 1;
    }),
  };
  return { redis, keys, state };
}

const config = {
  get: (k: string) => (k === 'queues' ? { prefix: 'test' } : { httpTimeoutMs: 10_000 }),
} as unknown as ConfigService<AppConfig, true>;

describe('RefreshLease', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('is renewed while held: a refresh (or its save) that runs past the lease’s life keeps it, and no other process gets it', async () => {
    jest.useFakeTimers();
    const { redis } = fakeRedis();
    const lease = new RefreshLease(redis as unknown as Redis, config);
    expect(lease.ttlMs).toBe(30_000);
    const held = (await lease.hold('c1'))!;
    await jest.advanceTimersByTimeAsync(3 * lease.ttlMs);
    expect(held.lost.aborted).toBe(false);
    expect(await lease.hold('c1')).toBeNull();
    await held.release();
    const next = await lease.hold('c1');
    expect(next).not.toBeNull();
    await next!.release();
  });

  it('tells its holder when another process took it (it expired): the holder must stop', async () => {
    jest.useFakeTimers();
    const { redis, keys } = fakeRedis();
    const held = (await new RefreshLease(redis as unknown as Redis, config).hold('c1'))!;
    keys.set('test:oauth:refresh-lock:c1', { token: 'someone-else', until: Date.now() + 30_000 });
    await jest.advanceTimersByTimeAsync(10_000);
    expect(held.lost.aborted).toBe(true);
    await held.release();
    expect(keys.get('test:oauth:refresh-lock:c1')?.token).toBe('someone-else');
  });

  it('gives up on its own when Redis does not confirm a renewal within half the lease', async () => {
    jest.useFakeTimers();
    const { redis, state } = fakeRedis();
    const held = (await new RefreshLease(redis as unknown as Redis, config).hold('c1'))!;
    await jest.advanceTimersByTimeAsync(10_000);
    expect(held.lost.aborted).toBe(false);
    state.renewals = 'hang';
    await jest.advanceTimersByTimeAsync(10_000);
    expect(held.lost.aborted).toBe(false);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(held.lost.aborted).toBe(true);
    await held.release();
  });

  it('run: the disconnect’s lease is renewed too, and released after', async () => {
    jest.useFakeTimers();
    const { redis, keys } = fakeRedis();
    const lease = new RefreshLease(redis as unknown as Redis, config);
    const done = lease.run('c1', 0, async (held) => {
      expect(held).toBe(true);
      await new Promise((r) => setTimeout(r, 2 * lease.ttlMs));
      expect(await lease.acquire('c1')).toBeNull(); // still ours: no refresh starts under a revoke
    });
    await jest.advanceTimersByTimeAsync(2 * lease.ttlMs);
    await done;
    expect(keys.has('test:oauth:refresh-lock:c1')).toBe(false);
  });
});
