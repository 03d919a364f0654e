import type { PendingZoomEvent } from '../sessions';
import { PendingEventsSweeper } from './pending-events.sweeper';

/** session_events as the sweeper sees it: `received` events, oldest first, a keyset page at a time. */
function pendingEvents(events: PendingZoomEvent[]) {
  const sorted = [...events].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  const calls: Array<PendingZoomEvent | undefined> = [];
  return {
    calls,
    pendingZoomEvents: jest.fn(async (_olderThanMs: number, limit: number, after?: PendingZoomEvent) => {
      calls.push(after);
      const from = after ? sorted.findIndex((e) => e.createdAt > after.createdAt || (e.createdAt === after.createdAt && e.id > after.id)) : 0;
      return from < 0 ? [] : sorted.slice(from, from + limit);
    }),
  };
}

/** A producer whose jobs for `live` events are still waiting; any other is queued again. */
function producer(live: Set<string>) {
  const requeued: string[] = [];
  return {
    requeued,
    requeue: jest.fn(async (_name: string, data: { eventId: string }) => {
      if (live.has(data.eventId)) return false;
      requeued.push(data.eventId);
      return true;
    }),
  };
}

const at = (i: number) => `2026-12-01 10:00:${String(Math.floor(i / 1000)).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}000+00`;
const ev = (i: number): PendingZoomEvent => ({ id: `ev-${String(i).padStart(4, '0')}`, createdAt: at(i) });

describe('PendingEventsSweeper', () => {
  it('600 received events, the 500 oldest with a live job: one pass re-queues the 100 lost ones behind them', async () => {
    const all = Array.from({ length: 600 }, (_, i) => ev(i));
    const events = pendingEvents(all);
    const jobs = producer(new Set(all.slice(0, 500).map((e) => e.id)));
    const sweeper = new PendingEventsSweeper(events as never, jobs as never);
    // Before the fix: 0 (it only ever looked at the 500 oldest).
    expect(await sweeper.sweep()).toBe(100);
    expect(jobs.requeued).toEqual(all.slice(500).map((e) => e.id));
    // Two pages, the second after the last event of the first.
    expect(events.calls).toEqual([undefined, all[499]]);
  });

  it('events sharing one created_at are each seen once across a page boundary', async () => {
    const all = Array.from({ length: 1001 }, (_, i) => ({ id: `ev-${String(i).padStart(4, '0')}`, createdAt: at(Math.floor(i / 300)) }));
    const events = pendingEvents(all);
    const jobs = producer(new Set());
    expect(await new PendingEventsSweeper(events as never, jobs as never).sweep()).toBe(1001);
    expect(new Set(jobs.requeued).size).toBe(1001);
    expect(events.pendingZoomEvents).toHaveBeenCalledTimes(3);
  });

  it('a tick while a pass is still running (a long backlog, Redis slow) is skipped, not run beside it', async () => {
    const events = pendingEvents([ev(1), ev(2)]);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const jobs = { requeue: jest.fn(async () => (await held, true)) };
    const sweeper = new PendingEventsSweeper(events as never, jobs as never);
    const tick = () => (sweeper as unknown as { tick(): Promise<number> }).tick();
    const first = tick();
    expect(await tick()).toBe(0);
    release();
    expect(await first).toBe(2);
    expect(jobs.requeue).toHaveBeenCalledTimes(2);
    // Finished: the next tick runs a new pass.
    expect(await tick()).toBe(2);
  });

  it('Postgres or Redis failing ends the pass with a warning; what was re-queued is counted', async () => {
    const events = pendingEvents([ev(1), ev(2), ev(3)]);
    const jobs = {
      requeue: jest
        .fn()
        .mockResolvedValueOnce(true)
        .mockRejectedValueOnce(new Error('Connection is closed.')),
    };
    expect(await new PendingEventsSweeper(events as never, jobs as never).sweep()).toBe(1);
    expect(jobs.requeue).toHaveBeenCalledTimes(2);
    const failing = { pendingZoomEvents: jest.fn().mockRejectedValue(new Error('connect ECONNREFUSED')) };
    expect(await new PendingEventsSweeper(failing as never, jobs as never).sweep()).toBe(0);
  });
});
