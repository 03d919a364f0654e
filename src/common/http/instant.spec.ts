import { isInstant } from './instant';

describe('isInstant', () => {
  it.each([
    '2026-12-01',
    '2026-12-01T00:00:00Z',
    '2024-02-29T23:59:59.999999Z',
    '2026-12-01T10:00Z',
    '2026-12-01T10:00:00+05:30',
    '2026-12-01T10:00:00-14:00',
    '2026-12-01T10:00:00',
  ])('accepts %s', (s) => expect(isInstant(s)).toBe(true));

  it.each([
    '2026-02-31T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '2026-04-31',
    '2026-13-01',
    '0000-01-01T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T23:60:00Z',
    '2026-01-01T23:59:60Z',
    '2026-01-01T00:00:00+15:00',
    '2026-W05',
    '2026-032',
    '20260131T000000Z',
    '+275760-09-13T00:00:00Z',
    'yesterday',
    '',
  ])('refuses %s', (s) => expect(isInstant(s)).toBe(false));

  it('requireOffset demands a time with its offset', () => {
    expect(isInstant('2026-12-01T10:00:00.123456Z', true)).toBe(true);
    expect(isInstant('2026-12-01T10:00:00', true)).toBe(false);
    expect(isInstant('2026-12-01', true)).toBe(false);
  });
});
