import { createServer } from 'node:net';
import Redis from 'ioredis';
import { CLUSTER_SLOT_TARGET, ClusterSlotConnector, primaryForSlot } from './cluster-slot-connector';
import { endDisconnectWhileReconnecting } from './disconnect-while-reconnecting';
import { reconnectDelayMs } from './redis-options';

/** A loopback port nothing listens on (bound, then released). */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function until(client: Redis, event: string): Promise<unknown> {
  return new Promise((resolve) => client.once(event, resolve));
}

describe('ClusterSlotConnector', () => {
  const slots = [
    [0, 5460, ['10.0.0.1', 7000, 'a'], ['10.0.0.4', 7003, 'd']],
    [5461, 10922, ['', 7001, 'b']],
    [10923, 16383, ['?', 7002, 'c']],
  ] as Parameters<typeof primaryForSlot>[0];
  const asked = { host: 'seed.example', port: 7005 };

  it('picks the primary (first address) of the range holding the slot, never a replica', () => {
    expect(primaryForSlot(slots, 0, asked)).toEqual({ host: '10.0.0.1', port: 7000 });
    expect(primaryForSlot(slots, 5460, asked)).toEqual({ host: '10.0.0.1', port: 7000 });
  });

  it("a node that does not announce its address ('' or '?') is reached where it was asked", () => {
    expect(primaryForSlot(slots, 6000, asked)).toEqual({ host: 'seed.example', port: 7001 });
    expect(primaryForSlot(slots, 16383, asked)).toEqual({ host: 'seed.example', port: 7002 });
  });

  it('no range holds the slot (the cluster has not assigned it): none', () => {
    expect(primaryForSlot([slots[0]], 9000, asked)).toBeNull();
  });

  it('backs off 200 ms more per round of asking every seed, up to 2 s (as every reconnect does)', () => {
    expect([1, 2, 5, 10, 50].map(reconnectDelayMs)).toEqual([200, 400, 1000, 2000, 2000]);
  });

  it('the ready check accepts a primary only (a stale answer could name a demoted one)', () => {
    const connector = new ClusterSlotConnector({ [CLUSTER_SLOT_TARGET]: { seeds: [], key: '{hub}' } });
    expect(connector.check({ role: 'master' })).toBe(true);
    expect(connector.check({ role: 'slave' })).toBe(false);
  });

  describe('with no seed answering', () => {
    let client: Redis;
    afterEach(() => client?.disconnect());

    it('keeps asking (status connecting, one error per round naming the seed) and holds commands; disconnect ends it', async () => {
      endDisconnectWhileReconnecting();
      const port = await refusedPort();
      client = new Redis({
        Connector: ClusterSlotConnector,
        [CLUSTER_SLOT_TARGET]: { seeds: [{ host: '127.0.0.1', port }], key: '{hub}', askTimeoutMs: 500 },
        lazyConnect: true,
        maxRetriesPerRequest: null,
      } as never);
      const errors: string[] = [];
      client.on('error', (err: Error) => errors.push(err.message));
      void client.connect().catch(() => undefined);
      const held = client.set('{hub}:k', 'v');
      while (errors.length < 2) await until(client, 'error');
      expect(client.status).toBe('connecting');
      expect(errors[0]).toMatch(new RegExp(`^Redis Cluster: no node named the primary for the hub's slot \\(127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*\\); asking again in 200 ms$`));
      expect(errors[1]).toMatch(/asking again in 400 ms$/);
      // Mid back-off (the second, 400 ms): disconnect ends the client at once, not after it.
      const ended = until(client, 'end');
      const disconnectedAt = Date.now();
      client.disconnect();
      await ended;
      expect(client.status).toBe('end');
      expect(Date.now() - disconnectedAt).toBeLessThan(300);
      await expect(held).rejects.toThrow(/Connection is closed/);
    });
  });
});
