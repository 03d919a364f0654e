import { Interval, subtractIntervals, unionIntervals } from './intervals';

/** A small deterministic generator (no flaky random tests). */
function lcg(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/** What subtractIntervals must give, point by point: the integers of [0, 1000) in `intervals` and not in `minus`. */
function covered(intervals: Interval[], minus: Interval[]): boolean[] {
  const inside = (list: Interval[], t: number) => list.some((i) => t >= i.from && t < i.to);
  return Array.from({ length: 1000 }, (_, t) => inside(intervals, t) && !inside(minus, t));
}

describe('subtractIntervals', () => {
  it('keeps what no cut covers: before, between and after the cuts', () => {
    expect(subtractIntervals([{ from: 0, to: 100 }], [{ from: 10, to: 20 }, { from: 30, to: 40 }])).toEqual([
      { from: 0, to: 10 },
      { from: 20, to: 30 },
      { from: 40, to: 100 },
    ]);
    // One cut across two intervals, and intervals given out of order.
    expect(subtractIntervals([{ from: 50, to: 60 }, { from: 0, to: 10 }], [{ from: 5, to: 55 }])).toEqual([
      { from: 0, to: 5 },
      { from: 55, to: 60 },
    ]);
  });

  it('agrees with a point-by-point reference on random intervals', () => {
    const next = lcg(7);
    const random = (n: number) => Array.from({ length: n }, () => ({ from: Math.floor(next() * 1000), to: 0 })).map((i) => ({ from: i.from, to: i.from + Math.floor(next() * 80) }));
    for (let round = 0; round < 200; round++) {
      const intervals = random(1 + Math.floor(next() * 20));
      const minus = random(Math.floor(next() * 20));
      const result = subtractIntervals(intervals, minus);
      expect(covered(result, [])).toEqual(covered(intervals, minus));
      expect(unionIntervals(result)).toEqual(result); // sorted, disjoint, not touching
    }
  });

  it('is one pass over both lists: 100 000 gaps minus 100 000 others', () => {
    const a = Array.from({ length: 100_000 }, (_, i) => ({ from: i * 100, to: i * 100 + 50 }));
    const b = Array.from({ length: 100_000 }, (_, i) => ({ from: i * 100 + 25, to: i * 100 + 75 }));
    const started = Date.now();
    const result = subtractIntervals(a, b);
    // Generous: the scan of every cut per interval took minutes here.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result).toHaveLength(100_000);
    expect(result[1]).toEqual({ from: 100, to: 125 });
  });
});
