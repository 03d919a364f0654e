import { liveRegistrations, orphanDrainRequests, parseRegistration, peerRegistrations, TAKER_FRESH_MS } from './stream-workers.registry';

const reg = (id: string, at: number) => JSON.stringify({ id, running: 0, cap: 10, draining: false, spoolHost: 'h', hostname: 'h', pid: 1, at });

describe('stream worker registry', () => {
  it('tells live registrations from those old enough to delete', () => {
    const now = 1_000_000_000;
    const { live, stale } = liveRegistrations({ a: reg('a', now - 500), b: reg('b', now - 60_000), c: reg('c', now - 11 * 60_000), d: 'not json' }, now);
    expect(live.map((w) => w.id)).toEqual(['a']);
    expect(stale.sort()).toEqual(['c', 'd']);
  });

  it('drain requests of workers no longer registered, or being pruned, are orphans; a live worker keeps its request', () => {
    const registered = { live: reg('live', 1), old: reg('old', 1) };
    expect(orphanDrainRequests(['live', 'old', 'crashed-long-ago'], registered, ['old']).sort()).toEqual(['crashed-long-ago', 'old']);
    expect(orphanDrainRequests(['live'], registered, [])).toEqual([]);
    expect(orphanDrainRequests([], registered, ['old'])).toEqual([]);
  });

  it('peers for fair share and the drain: only fresh registrations, not this worker, and a worker asked to drain counts as draining before it says so', () => {
    const now = 1_000_000_000;
    const all = { self: reg('self', now), fresh: reg('fresh', now - 1_000), late: reg('late', now - TAKER_FRESH_MS), crashed: reg('crashed', now - TAKER_FRESH_MS - 1), asked: reg('asked', now - 100) };
    const peers = peerRegistrations(all, ['asked'], now, 'self');
    expect(peers.map((w) => [w.id, w.draining])).toEqual([
      ['fresh', false],
      ['late', false],
      ['asked', true],
    ]);
    // The crashed one is still listed (and drainable) until REGISTRATION_TTL_MS.
    expect(liveRegistrations(all, now).live.map((w) => w.id)).toContain('crashed');
  });

  it('a registration says whether a handed-over stream is still on its way (0 for older workers)', () => {
    expect(parseRegistration(JSON.stringify({ id: 'a', at: 1, handingOver: 1 }))).toMatchObject({ handingOver: 1 });
    expect(parseRegistration(JSON.stringify({ id: 'a', at: 1 }))).toMatchObject({ handingOver: 0 });
  });
});
