import { loadAppConfig } from './app.config';
import { describeRedisTopology, hashTagOf, parseHostPorts } from './redis-topology';

const base = {
  DATABASE_URL: 'postgres://u@localhost/db',
  REDIS_URL: 'redis://localhost:6379',
  TOKEN_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
};

describe('Redis topology settings', () => {
  it('REDIS_URL alone: one server, prefix rtms-hub (existing installs keep their keys)', () => {
    const config = loadAppConfig(base);
    expect(config.redis).toEqual({ mode: 'standalone', url: 'redis://localhost:6379', socketTimeoutMs: 12_000 });
    expect(config.queues.prefix).toBe('rtms-hub');
  });

  it('Sentinel takes precedence over REDIS_URL and carries both passwords, TLS and the database', () => {
    const config = loadAppConfig({
      ...base,
      REDIS_SENTINELS: '10.0.0.1:26379, s2.example:26380,[::1]:26381',
      REDIS_SENTINEL_NAME: 'hub',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      REDIS_PASSWORD: 'data-secret',
      REDIS_TLS: 'true',
      REDIS_DB: '2',
    });
    expect(config.redis).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 's2.example', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      name: 'hub',
      sentinelUsername: undefined,
      sentinelPassword: 'sentinel-secret',
      sentinelTls: false,
      username: undefined,
      password: 'data-secret',
      tls: true,
      db: 2,
      socketTimeoutMs: 12_000,
    });
    expect(config.queues.prefix).toBe('rtms-hub');
  });

  it('REDIS_SOCKET_TIMEOUT_MS: 12 s by default, 0 turns it off, under 11 s is refused (it would cut BullMQ\'s 10 s blocking reads)', () => {
    expect(loadAppConfig({ ...base, REDIS_SOCKET_TIMEOUT_MS: '20000' }).redis.socketTimeoutMs).toBe(20_000);
    expect(loadAppConfig({ ...base, REDIS_SOCKET_TIMEOUT_MS: '0' }).redis.socketTimeoutMs).toBe(0);
    expect(() => loadAppConfig({ ...base, REDIS_SOCKET_TIMEOUT_MS: '5000' })).toThrow(/REDIS_SOCKET_TIMEOUT_MS: 0 \(off\) or at least 11000/);
  });

  it('Cluster: nodes, and a hash-tagged prefix by default', () => {
    const config = loadAppConfig({ ...base, REDIS_URL: undefined, REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001' });
    expect(config.redis).toEqual({
      mode: 'cluster',
      nodes: [{ host: '127.0.0.1', port: 7000 }, { host: '127.0.0.1', port: 7001 }],
      slotKey: '{rtms-hub}',
      username: undefined,
      password: undefined,
      tls: false,
      socketTimeoutMs: 12_000,
    });
    expect(config.queues.prefix).toBe('{rtms-hub}');
    const tagged = loadAppConfig({ ...base, REDIS_CLUSTER_NODES: 'n1:7000', QUEUE_PREFIX: 'hub-{eu}' });
    expect(tagged.queues.prefix).toBe('hub-{eu}');
    expect(tagged.redis).toMatchObject({ slotKey: 'hub-{eu}' });
  });

  it.each([
    [{ REDIS_URL: undefined }, 'REDIS_URL: required unless REDIS_SENTINELS or REDIS_CLUSTER_NODES is set'],
    [{ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'b:2', QUEUE_PREFIX: '{x}' }, 'REDIS_SENTINELS and REDIS_CLUSTER_NODES: set one topology, not both'],
    [{ REDIS_SENTINELS: 'a:1' }, 'REDIS_SENTINEL_NAME: required with REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: 'a', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS: must be host:port entries'],
    [{ REDIS_SENTINELS: 'a:0', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS: must be host:port entries'],
    [{ REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINEL_NAME: only applies with REDIS_SENTINELS'],
    [{ REDIS_PASSWORD: 'x' }, 'REDIS_PASSWORD: only applies with REDIS_SENTINELS or REDIS_CLUSTER_NODES (put it in REDIS_URL)'],
    [{ REDIS_CLUSTER_NODES: 'a:1', QUEUE_PREFIX: 'rtms-hub' }, 'QUEUE_PREFIX: must carry a hash tag under REDIS_CLUSTER_NODES, e.g. {rtms-hub}'],
    [{ REDIS_CLUSTER_NODES: 'a:1', REDIS_DB: '1' }, 'REDIS_DB: Redis Cluster has database 0 only'],
    [{ REDIS_CLUSTER_NODES: 'a:1,,b' }, 'REDIS_CLUSTER_NODES: must be host:port entries'],
    [{ QUEUE_PREFIX: '{a}{b}' }, 'QUEUE_PREFIX'],
    [{ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', REDIS_SENTINEL_TLS: 'sometimes' }, 'REDIS_SENTINEL_TLS'],
  ])('refuses %j at boot', (env, message) => {
    expect(() => loadAppConfig({ ...base, ...env })).toThrow(message);
  });

  it('never echoes a password in its errors', () => {
    expect(() => loadAppConfig({ ...base, REDIS_PASSWORD: 'hunter2-secret' })).toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter2') }));
  });

  it('parses host:port lists and finds the hash tag as Redis Cluster does', () => {
    expect(parseHostPorts('a:1, b:2 ,')).toEqual([{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
    expect(parseHostPorts('')).toBeNull();
    expect(parseHostPorts('a:99999')).toBeNull();
    expect(hashTagOf('{rtms-hub}')).toBe('rtms-hub');
    expect(hashTagOf('hub-{eu}-x')).toBe('eu');
    expect(hashTagOf('{}hub')).toBeNull();
    expect(hashTagOf('rtms-hub')).toBeNull();
  });

  it('describes a topology without credentials', () => {
    expect(describeRedisTopology({ mode: 'standalone', url: 'redis://u:secret@h:6380/1' })).toBe('standalone h:6380');
    expect(describeRedisTopology({ mode: 'cluster', nodes: [{ host: 'a', port: 1 }], slotKey: '{x}', password: 'secret', tls: false })).toBe('cluster a:1');
  });
});
