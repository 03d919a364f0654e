import { Logger } from '@nestjs/common';
import type { OAuthConnectionsService } from './oauth-connections.service';
import { OAuthRefreshSweeper } from './oauth-refresh.sweeper';
import type { RefreshDue } from './repositories/oauth-connections.repository';

describe('OAuthRefreshSweeper', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  const due = (n: number): RefreshDue[] =>
    Array.from({ length: n }, (_, i) => ({ id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, tokenVersion: 1, expiresAt: new Date(Date.now() - 1000) }));

  it('queues the proactive refresh of every overdue active connection that has no live job, page by page', async () => {
    const all = due(1200);
    const findRefreshOverdue = jest.fn(async (_before: Date, after: string | null, limit: number) => {
      const from = after === null ? 0 : all.findIndex((c) => c.id === after) + 1;
      return all.slice(from, from + limit);
    });
    // Every third one still has its job (waiting, delayed or retrying): requeue leaves it.
    const ensureProactiveRefresh = jest.fn(async (c: RefreshDue) => Number(c.id.slice(-12)) % 3 !== 0);
    const sweeper = new OAuthRefreshSweeper({ findRefreshOverdue, ensureProactiveRefresh } as unknown as OAuthConnectionsService);
    await expect(sweeper.sweep()).resolves.toBe(800);
    expect(ensureProactiveRefresh).toHaveBeenCalledTimes(1200);
    expect(findRefreshOverdue).toHaveBeenCalledTimes(3);
    // Overdue: less than 5 minutes left (the proactive job is due 10 minutes before expiry).
    const before = (findRefreshOverdue.mock.calls[0] as unknown as [Date])[0];
    expect(before.getTime() - Date.now()).toBeGreaterThan(4 * 60_000);
    expect(before.getTime() - Date.now()).toBeLessThanOrEqual(5 * 60_000);
  });

  it('a failure ends the pass quietly (the next one tries again)', async () => {
    const sweeper = new OAuthRefreshSweeper({ findRefreshOverdue: async () => Promise.reject(new Error('db down')) } as unknown as OAuthConnectionsService);
    await expect(sweeper.sweep()).resolves.toBe(0);
  });
});
