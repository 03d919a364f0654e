import { fairShare, isStarving, nextPutBacks, STARVING_AFTER_MS, STARVING_PUT_BACKS, WorkerLoad } from './fair-share';

const w = (id: string, running: number, extra: Partial<WorkerLoad> = {}): WorkerLoad => ({ id, running, cap: 100, draining: false, ...extra });

describe('fairShare', () => {
  it('a worker alone takes every stream up to its cap', () => {
    expect(fairShare({ self: w('a', 99), others: [], demand: 150, slack: 1 })).toMatchObject({ admit: true, reason: 'only_worker_left' });
    expect(fairShare({ self: w('a', 100), others: [], demand: 150, slack: 1 })).toMatchObject({ admit: false, reason: 'at_cap' });
  });

  it('three workers and 30 streams: each takes at most its even share plus the slack', () => {
    const others = [w('b', 0), w('c', 0)];
    expect(fairShare({ self: w('a', 10), others, demand: 30, slack: 1 })).toMatchObject({ admit: true, share: 11 });
    expect(fairShare({ self: w('a', 11), others, demand: 30, slack: 1 })).toMatchObject({ admit: false, reason: 'above_share', share: 11 });
  });

  it('a greedy fetch of all 30 by one worker leaves the others within ±20 % of even', () => {
    // Worker a fetched every job first; b and c take what it puts back.
    const loads = { a: 0, b: 0, c: 0 };
    const order: Array<keyof typeof loads> = [...Array(30).fill('a'), ...Array(30).fill('b'), ...Array(30).fill('c')];
    let placed = 0;
    for (const id of order) {
      if (placed === 30) break;
      const others = (Object.keys(loads) as Array<keyof typeof loads>).filter((k) => k !== id).map((k) => w(k, loads[k]));
      if (fairShare({ self: w(id, loads[id]), others, demand: 30, slack: 1 }).admit) {
        loads[id]++;
        placed++;
      }
    }
    expect(placed).toBe(30);
    for (const n of Object.values(loads)) {
      expect(n).toBeGreaterThanOrEqual(8);
      expect(n).toBeLessThanOrEqual(12);
    }
  });

  it('never exceeds the cap, even when the share is larger', () => {
    expect(fairShare({ self: w('a', 5, { cap: 5 }), others: [w('b', 0)], demand: 100, slack: 1 })).toMatchObject({ admit: false, reason: 'at_cap' });
    expect(fairShare({ self: w('a', 4, { cap: 5 }), others: [w('b', 0)], demand: 100, slack: 1 })).toMatchObject({ admit: true, share: 5 });
  });

  it('workers that are draining or full do not count as takers', () => {
    // b drains and c is full: a is the only one that can take streams, so it takes all it can.
    const others = [w('b', 3, { draining: true }), w('c', 10, { cap: 10 })];
    expect(fairShare({ self: w('a', 40), others, demand: 60, slack: 1 })).toMatchObject({ admit: true, reason: 'only_worker_left' });
    // With another taker, the share is split between the two.
    expect(fairShare({ self: w('a', 31), others: [...others, w('d', 0)], demand: 60, slack: 1 })).toMatchObject({ admit: false, share: 31 });
  });

  it('a draining worker refuses new streams while another can take them, and takes them when none can', () => {
    expect(fairShare({ self: w('a', 0, { draining: true }), others: [w('b', 50)], demand: 51, slack: 1 })).toMatchObject({ admit: false, reason: 'draining' });
    expect(fairShare({ self: w('a', 0, { draining: true }), others: [w('b', 1, { draining: true })], demand: 2, slack: 1 })).toMatchObject({ admit: true, reason: 'only_worker_left' });
    expect(fairShare({ self: w('a', 0, { draining: true }), others: [], demand: 1, slack: 1 })).toMatchObject({ admit: true });
  });

  it('a starving job (put back too often or too long) is taken above the share and by a draining worker, never above the cap', () => {
    const others = [w('b', 0)];
    expect(fairShare({ self: w('a', 11), others, demand: 20, slack: 1 })).toMatchObject({ admit: false, reason: 'above_share' });
    expect(fairShare({ self: w('a', 11), others, demand: 20, slack: 1, starving: true })).toMatchObject({ admit: true, reason: 'starving' });
    expect(fairShare({ self: w('a', 0, { draining: true }), others, demand: 20, slack: 1, starving: true })).toMatchObject({ admit: true, reason: 'starving' });
    expect(fairShare({ self: w('a', 100), others, demand: 200, slack: 1, starving: true })).toMatchObject({ admit: false, reason: 'at_cap' });
  });
});

describe('put-backs', () => {
  it('a job is starving after STARVING_PUT_BACKS put-backs or STARVING_AFTER_MS since the first', () => {
    const t0 = 1_000_000;
    expect(isStarving(undefined, t0)).toBe(false);
    let p = nextPutBacks(undefined, t0);
    expect(p).toEqual({ count: 1, since: t0 });
    expect(isStarving(p, t0 + 300)).toBe(false);
    expect(isStarving(p, t0 + STARVING_AFTER_MS)).toBe(true);
    for (let i = 1; i < STARVING_PUT_BACKS; i++) p = nextPutBacks(p, t0 + 100 * i);
    expect(p).toEqual({ count: STARVING_PUT_BACKS, since: t0 });
    expect(isStarving(p, t0 + 400)).toBe(true);
  });
});
