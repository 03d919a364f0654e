import Redis from 'ioredis';
import { createRedisClient } from '../src/common/redis/redis-factory';
import type { RedisTopology } from '../src/config/redis-topology';
import { RedisClusterSet } from './utils/redis-topologies';
import { waitFor } from './utils/wait-for';

jest.setTimeout(120_000);

/**
 * How the hub reaches a Redis Cluster (src/common/redis/cluster-slot-connector.ts): plain
 * connections to the primary serving the hub's hash slot, found by asking the cluster,
 * and found again after a failover — planned (the old primary answers MOVED) or not (it
 * is gone). Three primaries with a replica each, from Debian's redis-server.
 */
describe('Redis Cluster: connections on the primary serving the hub’s slot', () => {
  const slotKey = '{connector-test}';
  let cluster: RedisClusterSet;
  let topology: RedisTopology;
  const clients: Redis[] = [];
  const connect = (name: string): Redis => {
    const client = createRedisClient(topology, name);
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };
  const portOf = async (client: Redis): Promise<number> => Number(/^tcp_port:(\d+)/m.exec(await client.info('server'))![1]);

  beforeAll(async () => {
    cluster = await RedisClusterSet.start({ replicas: 1 });
    // Seeds: every node but the slot's primary, as an operator listing a few nodes would.
    const owner = await cluster.primaryFor(slotKey);
    const seeds = cluster.ports.filter((p) => p !== owner).map((port) => ({ host: '127.0.0.1', port }));
    topology = { mode: 'cluster', nodes: seeds, slotKey, tls: false, socketTimeoutMs: 12_000 };
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('connects to the primary that serves the slot, whichever seed answers', async () => {
    const client = connect('connector-owner');
    await client.set(`${slotKey}:k`, 'v');
    expect(await portOf(client)).toBe(await cluster.primaryFor(slotKey));
    // One node holds the key: the slot's primary (and its replica, not counted as a primary).
    expect((await cluster.keysPerNode()).filter((n) => n > 0)).toHaveLength(1);
  });

  it('follows a planned failover: the demoted primary answers MOVED, the command is sent again to the new one and succeeds', async () => {
    const client = connect('connector-planned');
    await client.set(`${slotKey}:planned`, 'before');
    const { from, to } = await cluster.failoverPrimaryFor(slotKey);
    expect(await portOf(client)).toBe(from); // still on the demoted node: nothing told it yet
    await client.set(`${slotKey}:planned`, 'after');
    expect(await portOf(client)).toBe(to);
    expect(await client.get(`${slotKey}:planned`)).toBe('after');
  });

  it('follows an unplanned failover: a blocked reader on the killed primary is served by the promoted replica', async () => {
    const reader = connect('connector-reader');
    const writer = connect('connector-writer');
    const before = await cluster.primaryFor(slotKey);
    expect(await portOf(reader)).toBe(before);
    const popped = reader.bzpopmin(`${slotKey}:z`, 0);
    const readerBlocked = async () => ((await writer.client('LIST')) as string).split('\n').some((c) => c.includes('name=connector-reader') && c.includes('cmd=bzpopmin'));
    await waitFor(readerBlocked, { timeoutMs: 5000, what: 'the reader blocked' });
    const loss = await cluster.killPrimaryFor(slotKey);
    await writer.zadd(`${slotKey}:z`, 1, 'after-the-failover');
    expect(await popped).toEqual([`${slotKey}:z`, 'after-the-failover', '1']);
    expect(await portOf(reader)).toBe(loss.promoted);
    expect(await portOf(writer)).toBe(loss.promoted);
  });

  it('hears the slot primary’s expired-key events (the lease takeover’s signal), which a Cluster client on an arbitrary node would not', async () => {
    const sub = connect('connector-sub');
    const client = connect('connector-expiring');
    const heard: string[] = [];
    sub.on('message', (_channel: string, key: string) => heard.push(key));
    await sub.subscribe('__keyevent@0__:expired');
    await client.set(`${slotKey}:lease`, 'x', 'PX', 50);
    await waitFor(() => heard.includes(`${slotKey}:lease`), { timeoutMs: 5000, what: 'the expired event' });
  });
});
