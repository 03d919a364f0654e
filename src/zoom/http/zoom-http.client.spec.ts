import { retryAfterSeconds } from './zoom-http.client';

const retryAfter = (value: string, now?: number) => retryAfterSeconds(new Headers({ 'retry-after': value }), now);

describe('retryAfterSeconds (Retry-After: delta-seconds or an HTTP-date, at least 1 s)', () => {
  const now = Date.UTC(2026, 11, 2, 9, 0, 0);

  it('reads delta-seconds', () => {
    expect(retryAfter('7')).toBe(7);
    expect(retryAfter(' 120 ')).toBe(120);
    expect(retryAfter('86400')).toBe(86400);
  });

  it('never answers less than 1 s: "0", a date in the past or within the second', () => {
    expect(retryAfter('0')).toBe(1);
    expect(retryAfter('Wed, 02 Dec 2026 08:59:00 GMT', now)).toBe(1);
    expect(retryAfter('Wed, 02 Dec 2026 09:00:00 GMT', now)).toBe(1);
  });

  it.each([
    ['IMF-fixdate', 'Wed, 02 Dec 2026 09:00:30 GMT'],
    ['RFC 850', 'Wednesday, 02-Dec-26 09:00:30 GMT'],
    ['asctime', 'Wed Dec  2 09:00:30 2026'],
  ])('reads an HTTP-date (%s) as the seconds until it', (_form, value) => {
    expect(retryAfter(value, now)).toBe(30);
  });

  it.each([
    ['1.5'], // V8's Date.parse reads it as 2001-01-05: a date in the past, so 0 s
    ['10, 20'], // a repeated header, joined by fetch's Headers.get
    ['-1'],
    ['+5'],
    ['1e3'],
    ['soon'],
    ['2026-12-02T09:00:30Z'], // ISO 8601 is not an HTTP-date
    ['Wed, 31 Feb 2026 09:00:30 GMT'], // no such day
    ['Wed, 02 Dec 2026 24:00:30 GMT'],
  ])('"%s" is not a Retry-After value: undefined (the caller’s default applies)', (value) => {
    expect(retryAfter(value, now)).toBeUndefined();
  });

  it('undefined without the header', () => {
    expect(retryAfterSeconds(new Headers())).toBeUndefined();
  });
});
