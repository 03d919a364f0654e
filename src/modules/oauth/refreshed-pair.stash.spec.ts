import { randomBytes } from 'node:crypto';
import type { ConfigService } from '@nestjs/config';
import type Redis from 'ioredis';
import { TokenCipher } from '../../common/crypto/token-cipher';
import type { AppConfig } from '../../config/app.config';
import { RefreshedPairStash } from './refreshed-pair.stash';

function fakeRedis() {
  const keys = new Map<string, string>();
  const redis = {
    set: jest.fn(async (key: string, value: string) => {
      keys.set(key, value);
      return 'OK';
    }),
    get: jest.fn(async (key: string) => keys.get(key) ?? null),
    del: jest.fn(async (key: string) => (keys.delete(key) ? 1 : 0)),
  };
  return { redis, keys };
}

const config = { get: () => ({ prefix: 'test' }) } as unknown as ConfigService<AppConfig, true>;
const cipher = new TokenCipher([{ id: 'k1', key: randomBytes(32) }]);

describe('RefreshedPairStash', () => {
  it('keeps a pair sealed, with the time Zoom issued it, for the version it replaces only', async () => {
    const { redis, keys } = fakeRedis();
    const stash = new RefreshedPairStash(redis as unknown as Redis, cipher, config);
    const issuedAt = Date.now() - 3 * 3600_000;
    await stash.put('c1', 4, { accessToken: 'at-secret', refreshToken: 'rt-secret', expiresInSec: 3600, scope: 's', issuedAt });
    expect([...keys.values()].join()).not.toMatch(/at-secret|rt-secret/);
    await expect(stash.find('c1', 4)).resolves.toEqual({ accessToken: 'at-secret', refreshToken: 'rt-secret', expiresInSec: 3600, scope: 's', issuedAt });
    await expect(stash.find('c1', 5)).resolves.toBeNull();
    await stash.clear('c1');
    await expect(stash.find('c1', 4)).resolves.toBeNull();
  });

  it('a pair stashed by an older release (no issue time) counts as expired, not as issued now', async () => {
    const { redis, keys } = fakeRedis();
    const stash = new RefreshedPairStash(redis as unknown as Redis, cipher, config);
    const legacy = { accessToken: 'at', refreshToken: 'rt', expiresInSec: 3600, scope: '' };
    keys.set('test:oauth:refreshed-pending:c1', JSON.stringify({ version: 2, sealed: cipher.encrypt(JSON.stringify(legacy), 'oauth-refreshed-pending:c1:2') }));
    const pair = await stash.find('c1', 2);
    expect(pair).toMatchObject(legacy);
    expect(pair!.issuedAt! + pair!.expiresInSec * 1000).toBeLessThanOrEqual(Date.now());
  });
});
