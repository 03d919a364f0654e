import Redis, { Cluster } from 'ioredis';
import { bullConnectionFor, createRedisClient, isClusterClient, reconnectOnReadonly, redisDatabase, redisOptionsFor } from './redis-factory';

const sentinel = {
  mode: 'sentinel' as const,
  sentinels: [{ host: '127.0.0.1', port: 26379 }],
  name: 'hub',
  sentinelPassword: 'sp',
  sentinelTls: true,
  password: 'dp',
  tls: true,
  db: 3,
};

describe('redis factory: one builder for every topology', () => {
  it('one server: the URL options, BullMQ gets options (it opens its own connections)', () => {
    const t = { mode: 'standalone' as const, url: 'redis://h:6380/1' };
    expect(redisOptionsFor(t)).toMatchObject({ host: 'h', port: 6380, db: 1, maxRetriesPerRequest: null });
    expect(bullConnectionFor(t)).not.toBeInstanceOf(Cluster);
    expect(redisDatabase(t)).toBe(1);
  });

  it('socketTimeoutMs becomes every connection\'s socketTimeout (a server that stops answering is left); 0 or unset: none', () => {
    expect(redisOptionsFor({ mode: 'standalone', url: 'redis://h:6380', socketTimeoutMs: 12_000 }).socketTimeout).toBe(12_000);
    expect(redisOptionsFor({ ...sentinel, socketTimeoutMs: 15_000 }).socketTimeout).toBe(15_000);
    expect(redisOptionsFor({ mode: 'standalone', url: 'redis://h:6380', socketTimeoutMs: 0 }).socketTimeout).toBeUndefined();
    expect(redisOptionsFor(sentinel).socketTimeout).toBeUndefined();
    const cluster = createRedisClient({ mode: 'cluster', nodes: [{ host: '127.0.0.1', port: 7000 }], tls: false, socketTimeoutMs: 12_000 }, 'unit', { lazyConnect: true });
    try {
      expect((cluster as unknown as Cluster).options.redisOptions).toMatchObject({ socketTimeout: 12_000 });
    } finally {
      cluster.disconnect();
    }
  });

  it('Sentinel: sentinels + group name, both passwords, TLS on both legs, no failover detector (it leaks past QUIT); BullMQ gets options', () => {
    expect(redisOptionsFor(sentinel)).toMatchObject({
      sentinels: sentinel.sentinels,
      name: 'hub',
      sentinelPassword: 'sp',
      sentinelTLS: {},
      password: 'dp',
      tls: {},
      enableTLSForSentinelMode: true,
      db: 3,
      failoverDetector: false,
      maxRetriesPerRequest: null,
    });
    expect(redisDatabase(sentinel)).toBe(3);
    const client = createRedisClient(sentinel, 'unit', { lazyConnect: true });
    try {
      expect(client).toBeInstanceOf(Redis);
      expect(isClusterClient(client)).toBe(false);
      expect(client.options).toMatchObject({ connectionName: 'unit', name: 'hub' });
    } finally {
      client.disconnect();
    }
  });

  it('Cluster: a Cluster client whose nodes share the options; BullMQ gets an instance with maxRetriesPerRequest null', () => {
    const t = { mode: 'cluster' as const, nodes: [{ host: '127.0.0.1', port: 7000 }], password: 'dp', tls: false };
    const client = createRedisClient(t, 'unit', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    const bull = bullConnectionFor({ ...t }) as Cluster;
    try {
      expect(isClusterClient(client)).toBe(true);
      const options = (client as unknown as Cluster).options;
      expect(options).toMatchObject({ enableOfflineQueue: false, lazyConnect: true, scaleReads: 'master' });
      expect(options.redisOptions).toMatchObject({ password: 'dp', connectionName: 'unit', maxRetriesPerRequest: 1 });
      expect(bull).toBeInstanceOf(Cluster);
      expect(bull.options.redisOptions).toMatchObject({ maxRetriesPerRequest: null });
    } finally {
      client.disconnect();
      bull.disconnect();
    }
  });

  it('reconnects and resends on READONLY (a demoted primary), not on other errors', () => {
    expect(reconnectOnReadonly(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectOnReadonly(new Error('ERR wrong number of arguments'))).toBe(false);
  });
});
