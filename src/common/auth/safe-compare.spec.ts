import { matchesAny, safeEqual } from './safe-compare';

describe('constant-time comparison', () => {
  it('compares strings of any length', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });

  it('matches any of several secrets', () => {
    expect(matchesAny('k2', ['k1', 'k2'])).toBe(true);
    expect(matchesAny('k3', ['k1', 'k2'])).toBe(false);
    expect(matchesAny('k1', [])).toBe(false);
  });
});
