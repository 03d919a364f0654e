import { liveRegistrations, orphanDrainRequests } from './stream-workers.registry';

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
});
