import Redis, { Cluster } from 'ioredis';
import { CLUSTER_SLOT_TARGET, ClusterSlotConnector } from './cluster-slot-connector';
import { bullConnectionFor, createRedisClient, reconnectOnFailoverReply, redisDatabase, redisOptionsFor } from './redis-factory';

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
    expect(redisOptionsFor({ mode: 'cluster', nodes: [{ host: '127.0.0.1', port: 7000 }], slotKey: '{x}', tls: false, socketTimeoutMs: 12_000 }).socketTimeout).toBe(12_000);
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
      expect(client.options).toMatchObject({ connectionName: 'unit', name: 'hub' });
    } finally {
      client.disconnect();
    }
  });

  it('Cluster: a plain client whose connector finds the primary serving the hub\'s slot; BullMQ gets options, and duplicates keep the target', () => {
    const t = { mode: 'cluster' as const, nodes: [{ host: '127.0.0.1', port: 7000 }], slotKey: '{hub}', password: 'dp', tls: true };
    const client = createRedisClient(t, 'unit', { lazyConnect: true, maxRetriesPerRequest: 1 });
    const duplicate = client.duplicate({ connectionName: 'unit-2' });
    try {
      expect(client).toBeInstanceOf(Redis);
      expect(client.options).toMatchObject({ Connector: ClusterSlotConnector, password: 'dp', tls: {}, connectionName: 'unit', maxRetriesPerRequest: 1 });
      const target = { seeds: t.nodes, key: '{hub}', password: 'dp', tls: {} };
      expect((client.options as Record<string, unknown>)[CLUSTER_SLOT_TARGET]).toMatchObject(target);
      expect((duplicate.options as Record<string, unknown>)[CLUSTER_SLOT_TARGET]).toMatchObject(target);
      expect(bullConnectionFor(t)).toMatchObject({ Connector: ClusterSlotConnector, maxRetriesPerRequest: null, [CLUSTER_SLOT_TARGET]: target });
    } finally {
      client.disconnect();
      duplicate.disconnect();
    }
  });

  it('reconnects and resends on READONLY (a demoted primary), MOVED and CLUSTERDOWN (a Cluster failover), not on other errors', () => {
    expect(reconnectOnFailoverReply(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectOnFailoverReply(new Error('MOVED 3999 127.0.0.1:7001'))).toBe(2);
    expect(reconnectOnFailoverReply(new Error('CLUSTERDOWN The cluster is down'))).toBe(2);
    expect(reconnectOnFailoverReply(new Error('ERR wrong number of arguments'))).toBe(false);
  });
});
