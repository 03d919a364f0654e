import { HttpException } from '@nestjs/common';
import Redis from 'ioredis';
import { RedisServerProcess } from '../../../../test/utils/redis-server-process';
import { waitFor } from '../../../../test/utils/wait-for';
import { liveKeys } from '../live-protocol';
import { keyFingerprint, LiveTickets, principalOf } from './live-tickets.service';
import { LiveSettings } from './live-settings';

/** Just the two commands tickets use, over a Map. */
class FakeRedis {
  store = new Map<string, { value: string; ex: number }>();
  async set(key: string, value: string, _ex: 'EX', seconds: number) {
    this.store.set(key, { value, ex: seconds });
    return 'OK';
  }
  async getdel(key: string) {
    const v = this.store.get(key);
    this.store.delete(key);
    return v?.value ?? null;
  }
}

describe('LiveTickets', () => {
  const settings = { keys: liveKeys('t'), config: { ticketTtlSec: 60 } } as unknown as LiveSettings;

  it('stores only the hash of the ticket, with the key fingerprint and sessions, for the TTL', async () => {
    const redis = new FakeRedis();
    const tickets = new LiveTickets(redis as unknown as Redis, settings);
    const { ticket, expiresAt } = await tickets.issue({ fingerprint: keyFingerprint('secret-key'), owner: null }, ['s1']);
    expect(ticket.length).toBeGreaterThanOrEqual(40);
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now() + 59_000);
    const [[key, stored]] = [...redis.store.entries()];
    expect(key).not.toContain(ticket);
    expect(key.startsWith('t:live:ticket:')).toBe(true);
    expect(stored.ex).toBe(60);
    expect(stored.value).not.toContain('secret-key');
    expect(JSON.parse(stored.value)).toEqual({ key_fingerprint: keyFingerprint('secret-key'), session_ids: ['s1'] });
  });

  it('redeems a ticket once', async () => {
    const tickets = new LiveTickets(new FakeRedis() as unknown as Redis, settings);
    const { ticket } = await tickets.issue({ fingerprint: keyFingerprint('k'), owner: null }, null);
    const principal = await tickets.redeem(ticket);
    expect(principal).toEqual({ keyFingerprint: keyFingerprint('k'), sessionIds: null, owner: null });
    await expect(tickets.redeem(ticket)).resolves.toBeNull();
    await expect(tickets.redeem('made-up')).resolves.toBeNull();
    await expect(tickets.redeem('')).resolves.toBeNull();
  });

  it("carries an owner-scoped key's owner tag to the connection it opens", async () => {
    const tickets = new LiveTickets(new FakeRedis() as unknown as Redis, settings);
    const { ticket } = await tickets.issue({ fingerprint: 'f', owner: 'tenant-a' }, null);
    await expect(tickets.redeem(ticket)).resolves.toEqual({ keyFingerprint: 'f', sessionIds: null, owner: 'tenant-a' });
  });

  it('fingerprints keys as 16 hex chars and ignores foreign stored values', () => {
    expect(keyFingerprint('abc')).toMatch(/^[0-9a-f]{16}$/);
    expect(principalOf('not json')).toBeNull();
    expect(principalOf('{"x":1}')).toBeNull();
    expect(principalOf('{"key_fingerprint":"f","session_ids":["a"]}')?.sessionIds?.has('a')).toBe(true);
  });

  it('answers 503 service_unavailable, not a 500, when Redis cannot be reached (as the live endpoints do)', async () => {
    const server = await RedisServerProcess.start();
    // The shared client's options (redis.module.ts): no offline queue, one retry per request.
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 50, disconnectTimeout: 10 });
    redis.on('error', () => undefined);
    try {
      await waitFor(() => redis.status === 'ready', { what: 'the client' });
      await server.kill();
      await waitFor(() => redis.status !== 'ready', { what: 'the client to see the outage' });
      const failed = await new LiveTickets(redis, settings).issue({ fingerprint: 'f', owner: null }, null).catch((err: unknown) => err);
      expect(failed).toBeInstanceOf(HttpException);
      expect((failed as HttpException).getStatus()).toBe(503);
      expect((failed as HttpException).getResponse()).toMatchObject({ code: 'service_unavailable' });
    } finally {
      redis.disconnect();
      await server.kill();
    }
  });
});
