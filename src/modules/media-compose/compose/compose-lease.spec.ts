import type { ConfigService } from '@nestjs/config';
import type Redis from 'ioredis';
import type { AppConfig } from '../../../config/app.config';
import { RELEASE_IF_HOLDER, RENEW_IF_HOLDER } from '../../../common/redis/lease-scripts';
import { ComposeLeases } from './compose-lease';

/** The Redis commands a lease uses, on a map; `renewals` decides how a renewal is answered. */
function fakeRedis() {
  const keys = new Map<string, string>();
  const state = { renewals: 'answer' as 'answer' | 'hang' };
  const redis = {
    set: jest.fn(async (key: string, token: string) => {
      if (keys.has(key)) return null;
      keys.set(key, token);
      return 'OK';
    }),
    eval: jest.fn(async (script: string, _n: number, key: string, token: string) => {
      if (script === RENEW_IF_HOLDER) {
        if (state.renewals === 'hang') return new Promise(() => undefined);
        return keys.get(key) === token ? 1 : 0;
      }
      if (script === RELEASE_IF_HOLDER && keys.get(key) === token) keys.delete(key);
      return 1;
    }),
  };
  return { redis, keys, state };
}

const config = { get: () => ({ prefix: 'test' }) } as unknown as ConfigService<AppConfig, true>;

describe('ComposeLeases (one composition of a session at a time)', () => {
  afterEach(() => jest.useRealTimers());

  it('is held by one run until released', async () => {
    const { redis } = fakeRedis();
    const leases = new ComposeLeases(redis as unknown as Redis, config);
    const first = await leases.acquire('s1');
    expect(first).not.toBeNull();
    expect(await leases.acquire('s1')).toBeNull();
    expect(await leases.acquire('s2')).not.toBeNull();
    await first!.release();
    expect(await leases.acquire('s1')).not.toBeNull();
  });

  it('tells its run when another run holds the key (it expired): the run must stop', async () => {
    jest.useFakeTimers();
    const { redis, keys } = fakeRedis();
    const lease = (await new ComposeLeases(redis as unknown as Redis, config).acquire('s1', 3000))!;
    keys.set('test:recording-compose:lease:s1', 'someone-else');
    await jest.advanceTimersByTimeAsync(1000);
    expect(lease.lost.aborted).toBe(true);
    await lease.release();
    expect(keys.get('test:recording-compose:lease:s1')).toBe('someone-else');
  });

  it('gives up on its own when Redis does not confirm a renewal within half the lease', async () => {
    jest.useFakeTimers();
    const { redis, state } = fakeRedis();
    const lease = (await new ComposeLeases(redis as unknown as Redis, config).acquire('s1', 3000))!;
    await jest.advanceTimersByTimeAsync(1000);
    expect(lease.lost.aborted).toBe(false);
    state.renewals = 'hang';
    await jest.advanceTimersByTimeAsync(2000);
    expect(lease.lost.aborted).toBe(true);
    await lease.release();
  });
});
