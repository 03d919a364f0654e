import { randomUUID } from 'node:crypto';
import type { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import type { AppConfig } from '../src/config/app.config';
import { RoomsRateLimitedError, RoomsRateLimiter, slotIntervalMs } from '../src/modules/zoom-rooms/rooms-rate-limiter';

/**
 * RoomsRateLimiter against a real Redis: two limiters with their own Redis connections
 * stand for two processes (API and worker, or two workers) of one deployment, sharing
 * one account's schedule.
 */
const RATE = 2; // req/s, Zoom's lowest "Medium" plan limit
const INTERVAL = slotIntervalMs(RATE);
const ACCOUNT = 'rl_account';

describe('RoomsRateLimiter (real Redis, two processes)', () => {
  const clients: Redis[] = [];
  let prefix: string;
  let key: string;
  let a: RoomsRateLimiter;
  let b: RoomsRateLimiter;

  const limiter = (): RoomsRateLimiter => {
    const redis = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: 1 });
    clients.push(redis);
    const values: Partial<AppConfig> = {
      zoom: { accountId: ACCOUNT } as AppConfig['zoom'],
      queues: { prefix } as AppConfig['queues'],
      zoomRooms: { rateLimitPerSec: RATE } as AppConfig['zoomRooms'],
    };
    return new RoomsRateLimiter(redis, { get: (k: keyof AppConfig) => values[k] } as unknown as ConfigService<AppConfig, true>);
  };
  /** The reserved slot (Redis ms) is the schedule's next free time minus one interval. */
  const nextFree = async (): Promise<number | null> => {
    const v = await clients[0].get(key);
    return v === null ? null : Number(v);
  };

  beforeEach(() => {
    // A schedule of its own per case: nothing else (and no earlier case) shares the key.
    prefix = `rl-test-${randomUUID()}`;
    key = `${prefix}:zoom-rooms:rate:${ACCOUNT}`;
    a = limiter();
    b = limiter();
  });

  afterEach(async () => {
    await clients[0]?.del(key);
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });

  it('spaces slots one interval apart whichever process reserves them: never more than the limit in a wall-clock second', async () => {
    expect(a.intervalMs).toBe(INTERVAL);
    const slots: number[] = [];
    const waits: Array<{ who: string; waitMs: number }> = [];
    for (let i = 0; i < 8; i++) {
      const [who, l] = i % 2 === 0 ? ['a', a] : ['b', b];
      const r = await (l as RoomsRateLimiter).reserve(60_000);
      expect(r.reserved).toBe(true);
      waits.push({ who: who as string, waitMs: r.waitMs });
      slots.push((await nextFree())! - INTERVAL);
    }
    // One schedule for both: consecutive slots, exactly one interval apart.
    for (let i = 1; i < slots.length; i++) expect(slots[i] - slots[i - 1]).toBe(INTERVAL);
    // B's first call waits behind A's slot: B sees A's reservation (not a schedule per process).
    expect(waits[0].waitMs).toBe(0);
    expect(waits[1].who).toBe('b');
    expect(waits[1].waitMs).toBeGreaterThan(0);
    expect(waits[1].waitMs).toBeLessThanOrEqual(INTERVAL);
    // On Redis's clock, no second holds more than RATE sends.
    const perSecond = new Map<number, number>();
    for (const s of slots) perSecond.set(Math.floor(s / 1000), (perSecond.get(Math.floor(s / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(RATE);
  });

  it('concurrent reservations from both processes each get their own slot', async () => {
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).reserve(60_000)));
    const elapsed = Date.now() - started; // bounds how far apart on the clock the 20 scripts ran
    expect(results.every((r) => r.reserved)).toBe(true);
    // The k-th shortest wait is the k-th slot: k intervals after the first, less the time
    // that had passed when it was reserved.
    const waits = results.map((r) => r.waitMs).sort((x, y) => x - y);
    waits.forEach((w, k) => {
      expect(w).toBeLessThanOrEqual(k * INTERVAL);
      expect(w).toBeGreaterThanOrEqual(k * INTERVAL - elapsed);
    });
  });

  it('penalize (a 429 in one process) pauses every process until Retry-After; it never shortens the schedule', async () => {
    const before = Date.now();
    await a.penalize(1500);
    const first = await b.reserve(60_000);
    expect(first.reserved).toBe(true);
    expect(first.waitMs).toBeLessThanOrEqual(1500);
    expect(first.waitMs).toBeGreaterThanOrEqual(1500 - (Date.now() - before));
    const second = await a.reserve(60_000);
    expect(second.waitMs).toBeGreaterThan(1500);
    expect(second.waitMs).toBeLessThanOrEqual(1500 + INTERVAL);
    // A shorter Retry-After than what is already scheduled changes nothing.
    const scheduled = await nextFree();
    await b.penalize(100);
    expect(await nextFree()).toBe(scheduled);
  });

  it('reserve within maxWait takes the slot; beyond it nothing is reserved; acquire refuses with the wait', async () => {
    expect(await a.acquire(0)).toBe(0); // a free schedule: send now
    const scheduled = await nextFree();
    // The next slot is one interval away: too far for 100 ms, fine for a second.
    const refused = await b.reserve(100);
    expect(refused.reserved).toBe(false);
    expect(refused.waitMs).toBeGreaterThan(100);
    expect(refused.waitMs).toBeLessThanOrEqual(INTERVAL);
    expect(await nextFree()).toBe(scheduled); // nothing reserved
    const err = await b.acquire(100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RoomsRateLimitedError);
    expect((err as RoomsRateLimitedError).waitMs).toBeGreaterThan(100);
    expect(await nextFree()).toBe(scheduled);
    const taken = await b.reserve(1000);
    expect(taken.reserved).toBe(true);
    expect(taken.waitMs).toBeLessThanOrEqual(INTERVAL);
    expect(await nextFree()).toBe(scheduled! + INTERVAL);
  });
});
