import { ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type Redis from 'ioredis';
import { AppConfig } from '../../config/app.config';
import { consoleSessionKey } from './console-session';
import { ConsoleSessions } from './console-sessions.service';

/** Just what ConsoleSessions uses of ioredis: SET EX, MULTI GET+EXPIRE, DEL. */
function fakeRedis(failing = false) {
  const data = new Map<string, { value: string; ttl: number }>();
  const redis = {
    data,
    set: async (key: string, value: string, _ex: string, ttl: number) => void data.set(key, { value, ttl }),
    del: async (key: string) => void data.delete(key),
    multi() {
      const ops: Array<() => [Error | null, unknown]> = [];
      const chain = {
        get: (key: string) => (ops.push(() => [null, data.get(key)?.value ?? null]), chain),
        expire: (key: string, ttl: number) => (ops.push(() => [null, data.has(key) ? (data.get(key)!.ttl = ttl, 1) : 0]), chain),
        exec: async () => {
          if (failing) throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
          return ops.map((op) => op());
        },
      };
      return chain;
    },
  };
  return redis;
}

const config = { get: (k: string) => (k === 'queues' ? { prefix: 'pfx' } : { sessionTtlSec: 600 }) } as unknown as ConfigService<AppConfig, true>;

describe('ConsoleSessions', () => {
  it('stores a login under the hash of its id with the idle TTL, finds it (renewing the TTL) and forgets it on logout', async () => {
    const redis = fakeRedis();
    const sessions = new ConsoleSessions(redis as unknown as Redis, config);
    const created = await sessions.create('ops');
    const key = consoleSessionKey('pfx', created.id);
    expect(redis.data.get(key)?.ttl).toBe(600);
    expect(redis.data.get(key)?.value).not.toContain(created.id);
    redis.data.get(key)!.ttl = 5;
    expect(await sessions.find(created.id)).toEqual(created);
    expect(redis.data.get(key)?.ttl).toBe(600);
    await sessions.destroy(created.id);
    expect(await sessions.find(created.id)).toBeNull();
  });

  it('answers 503 (not a 500, not a pass) when Redis cannot be asked', async () => {
    const sessions = new ConsoleSessions(fakeRedis(true) as unknown as Redis, config);
    await expect(sessions.find('x'.repeat(43))).rejects.toBeInstanceOf(ServiceUnavailableException);
  });
});
