import Redis from 'ioredis';
import { useMeetingThroughRedis } from './utils/meeting-through-redis';
import { SentinelSet } from './utils/redis-topologies';

jest.setTimeout(180_000);

/** Names of the hub's own connections (connectionName) on a data node. */
async function hubClientNames(port: number): Promise<string[]> {
  const c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, lazyConnect: true });
  try {
    await c.connect();
    const list = (await c.call('CLIENT', 'LIST')) as string;
    return [...list.matchAll(/ name=(\S+) /g)].map((m) => m[1]).filter((n) => ['hub', 'stream-signal-subscriber', 'key-expiry-watcher'].includes(n));
  } finally {
    c.disconnect();
  }
}

/**
 * Issue 20: Redis behind Sentinel (one primary, one replica, three sentinels, started
 * here on loopback ports). A meeting runs through a switchover of the primary: every
 * connection of the hub follows it, nothing sent is lost, no job is left behind.
 */
describe('Redis Sentinel: a meeting through a primary failover', () => {
  let set: SentinelSet;
  beforeAll(async () => {
    set = await SentinelSet.start();
  });
  // REDIS_URL stays set (the shared test Redis): Sentinel must take precedence over it.
  const meeting = useMeetingThroughRedis(() => set.env());
  afterAll(async () => {
    await set?.stop();
  });

  it('loses nothing and leaves no job stuck when the primary fails over mid-meeting; every connection moves to the new primary', async () => {
    let moved = { from: 0, to: 0 };
    const counts = await meeting.run(async () => {
      const before = await set.primary();
      expect((await hubClientNames(before)).sort()).toEqual(expect.arrayContaining(['hub', 'stream-signal-subscriber']));
      moved = await set.switchover();
    });
    expect(moved.to).not.toBe(moved.from);
    expect(await set.primary()).toBe(moved.to);
    // The hub works against the new primary only: its named connections are all there.
    expect(await hubClientNames(moved.from)).toEqual([]);
    expect(await hubClientNames(moved.to)).toEqual(expect.arrayContaining(['hub', 'stream-signal-subscriber']));
    // Nothing of this file's prefix went to the shared Redis of REDIS_URL.
    const shared = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
    try {
      expect(await shared.keys(`${process.env.QUEUE_PREFIX}:*`)).toEqual([]);
    } finally {
      shared.disconnect();
    }
    console.log(`sentinel switchover ${moved.from} → ${moved.to}; ${counts}`);
  });
});
