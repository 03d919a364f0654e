import { TurnBatcher } from './turn-batcher';

describe('TurnBatcher', () => {
  it('sends the calls of one turn to one flush and answers each in order', async () => {
    const flushes: number[][] = [];
    const b = new TurnBatcher<number, number>(async (xs) => {
      flushes.push(xs);
      return xs.map((x) => x * 10);
    });
    const results = await Promise.all([b.run(1), b.run(2), b.run(3)]);
    expect(results).toEqual([10, 20, 30]);
    expect(flushes).toEqual([[1, 2, 3]]);
    expect(await b.run(4)).toBe(40);
    expect(flushes).toEqual([[1, 2, 3], [4]]);
  });

  it('flushes at maxBatch without waiting for the turn to end', async () => {
    const flushes: number[][] = [];
    const b = new TurnBatcher<number, number>(async (xs) => {
      flushes.push(xs);
      return xs;
    }, 2);
    await Promise.all([b.run(1), b.run(2), b.run(3)]);
    expect(flushes).toEqual([[1, 2], [3]]);
  });

  it('rejects every caller of a batch whose flush failed, and recovers for the next one', async () => {
    let fail = true;
    const b = new TurnBatcher<number, number>(async (xs) => {
      if (fail) throw new Error('db down');
      return xs;
    });
    const both = await Promise.allSettled([b.run(1), b.run(2)]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(b.run(3)).resolves.toBe(3);
  });
});
