import { redisOptionsFromUrl } from './redis-options';

describe('redisOptionsFromUrl', () => {
  it('reads host, port, db, credentials and TLS', () => {
    expect(redisOptionsFromUrl('rediss://user:p%40ss@cache.example:6380/2')).toMatchObject({
      host: 'cache.example',
      port: 6380,
      db: 2,
      username: 'user',
      password: 'p@ss',
      tls: {},
      maxRetriesPerRequest: null,
    });
  });

  it('defaults port 6379, db 0, no TLS', () => {
    expect(redisOptionsFromUrl('redis://localhost')).toMatchObject({ host: 'localhost', port: 6379, db: 0, tls: undefined, password: undefined });
  });
});
