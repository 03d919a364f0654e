import type { UrlValidationResult } from './types';
import { UrlValidationSchedule } from './url-validation';

const HOUR = 3600_000;

describe('automatic endpoint.url_validation (fake timers)', () => {
  let calls: Array<{ url: string; plainToken: string }>;
  let answer: UrlValidationResult;
  const validate = (url: string, plainToken: string) => {
    calls.push({ url, plainToken });
    return Promise.resolve(answer);
  };
  /** Let the validation promises settle (they resolve on microtasks). */
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    calls = [];
    answer = { ok: true, status: 200, body: {} };
  });
  afterEach(() => jest.useRealTimers());

  it('validates on save, then every 72 h; a new URL restarts the count; close stops the timer', async () => {
    const schedule = new UrlValidationSchedule(validate, { automatic: true, intervalMs: 72 * HOUR });
    schedule.saved('http://hub/a');
    expect(calls.map((c) => c.url)).toEqual(['http://hub/a']);
    await settle();
    expect(schedule.status).toMatchObject({ url: 'http://hub/a', validated: true, attempts: 1, lastValidatedAt: 1_000_000, nextAt: 1_000_000 + 72 * HOUR });

    jest.advanceTimersByTime(72 * HOUR - 1);
    expect(calls).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(calls).toHaveLength(2);
    jest.advanceTimersByTime(72 * HOUR);
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((c) => c.plainToken)).size).toBe(3); // a fresh plainToken each time

    jest.advanceTimersByTime(10 * HOUR);
    schedule.saved('http://hub/b');
    expect(calls.map((c) => c.url)).toEqual(['http://hub/a', 'http://hub/a', 'http://hub/a', 'http://hub/b']);
    jest.advanceTimersByTime(72 * HOUR - 1);
    expect(calls).toHaveLength(4);
    jest.advanceTimersByTime(1);
    expect(calls[4].url).toBe('http://hub/b');

    schedule.close();
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(1000 * HOUR);
    expect(calls).toHaveLength(5);
  });

  it('records a failed check and keeps the schedule (events keep flowing; nothing is disabled)', async () => {
    const schedule = new UrlValidationSchedule(validate, { automatic: true, intervalMs: HOUR });
    answer = { ok: false, status: 401, body: {} };
    schedule.saved('http://hub/a');
    await settle();
    jest.advanceTimersByTime(HOUR);
    await settle();
    expect(schedule.status).toMatchObject({ validated: false, attempts: 2, consecutiveFailures: 2, lastValidatedAt: null, lastResult: { ok: false, status: 401 } });
    answer = { ok: true, status: 200, body: {} };
    jest.advanceTimersByTime(HOUR);
    await settle();
    expect(schedule.status).toMatchObject({ validated: true, attempts: 3, consecutiveFailures: 0 });
    schedule.close();
  });

  it('null URL (webhooks off) or automatic off: no validation, no timer', async () => {
    const off = new UrlValidationSchedule(validate, { automatic: false, intervalMs: HOUR });
    off.saved('http://hub/a');
    const none = new UrlValidationSchedule(validate, { automatic: true, intervalMs: HOUR });
    none.saved(null);
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(10 * HOUR);
    expect(calls).toHaveLength(0);
    // A requested validation still runs and is recorded.
    await off.run('http://hub/a', 'tok');
    expect(calls).toEqual([{ url: 'http://hub/a', plainToken: 'tok' }]);
    expect(off.status).toMatchObject({ automatic: false, validated: true, attempts: 1, nextAt: null });
  });

  it('an answer for a URL that is no longer the target does not count for the new one', async () => {
    let release!: (r: UrlValidationResult) => void;
    const slow = new UrlValidationSchedule((url, plainToken) => {
      calls.push({ url, plainToken });
      return new Promise((r) => (release = r));
    }, { automatic: true, intervalMs: HOUR });
    slow.saved('http://hub/old');
    const first = release;
    slow.saved('http://hub/new');
    first({ ok: false, status: 500, body: {} });
    await settle();
    expect(slow.status).toMatchObject({ url: 'http://hub/new', validated: null, attempts: 0 });
    slow.close();
  });
});
