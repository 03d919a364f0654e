import { SeenOffsets } from './spool-groups';

describe('SeenOffsets', () => {
  it('marks each offset of a segment once', () => {
    const seen = new SeenOffsets(10_000);
    expect(seen.mark(0)).toBe(true);
    expect(seen.mark(0)).toBe(false);
    expect(seen.mark(20)).toBe(true);
    expect(seen.mark(9_999)).toBe(true);
    expect(seen.mark(9_999)).toBe(false);
    expect(seen.mark(20)).toBe(false);
  });

  it('tells neighbouring offsets apart (each bit of each byte)', () => {
    const seen = new SeenOffsets(64);
    for (let i = 0; i < 64; i += 2) expect(seen.mark(i)).toBe(true);
    for (let i = 1; i < 64; i += 2) expect(seen.mark(i)).toBe(true);
    for (let i = 0; i < 64; i++) expect(seen.mark(i)).toBe(false);
  });

  it('covers a segment length that is not a multiple of 8', () => {
    const seen = new SeenOffsets(1_001);
    expect(seen.mark(1_000)).toBe(true);
    expect(seen.mark(1_000)).toBe(false);
  });
});
