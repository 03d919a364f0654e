import { nextStartRetry, START_RETRY_FIRST_DELAY_MS, START_RETRY_MAX_DELAY_MS, START_RETRY_WINDOW_MS, StreamStartError } from './start-retry';

describe('nextStartRetry', () => {
  const t0 = 1_700_000_000_000;

  it('starts a streak at the first failure and retries after the first delay', () => {
    expect(nextStartRetry(undefined, t0)).toEqual({ retry: true, at: t0 + START_RETRY_FIRST_DELAY_MS, streak: { count: 1, since: t0 } });
  });

  it('doubles the delay back to back, capped, keeping the streak start', () => {
    let streak = undefined as Parameters<typeof nextStartRetry>[0];
    const delays: number[] = [];
    let now = t0;
    for (let i = 0; i < 8; i++) {
      const r = nextStartRetry(streak, now);
      if (!r.retry) throw new Error('gave up too early');
      delays.push(r.at - now);
      expect(r.streak.since).toBe(t0);
      streak = r.streak;
      now = r.at;
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000, 5000]);
    expect(Math.max(...delays)).toBe(START_RETRY_MAX_DELAY_MS);
  });

  it('keeps a huge streak count from overflowing the delay', () => {
    const r = nextStartRetry({ count: 5000, since: t0 }, t0 + 1000);
    expect(r).toMatchObject({ retry: true, at: t0 + 1000 + START_RETRY_MAX_DELAY_MS });
  });

  it('gives up once the streak has lasted the window', () => {
    expect(nextStartRetry({ count: 700, since: t0 }, t0 + START_RETRY_WINDOW_MS - 1)).toMatchObject({ retry: true });
    expect(nextStartRetry({ count: 720, since: t0 }, t0 + START_RETRY_WINDOW_MS)).toEqual({ retry: false, failingForMs: START_RETRY_WINDOW_MS });
  });
});

describe('StreamStartError', () => {
  it('names the stream and keeps the cause', () => {
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    const err = new StreamStartError('st1', cause);
    expect(err.message).toBe('Stream st1 could not start: connect ECONNREFUSED 127.0.0.1:5432');
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('StreamStartError');
  });
});
