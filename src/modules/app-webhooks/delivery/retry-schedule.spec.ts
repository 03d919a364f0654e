import { delayBeforeAttempt, longestRetryWaitMs } from './retry-schedule';

describe('delayBeforeAttempt', () => {
  const schedule = [0, 5, 300];

  it('follows the schedule, attempt by attempt, and ends with it', () => {
    expect(delayBeforeAttempt(schedule, 1, () => 0.5)).toBe(0);
    expect(delayBeforeAttempt(schedule, 2, () => 0.5)).toBe(5000);
    expect(delayBeforeAttempt(schedule, 3, () => 0.5)).toBe(300_000);
    expect(delayBeforeAttempt(schedule, 4)).toBeNull();
  });

  it('adds at most ±10 % jitter, never to an immediate attempt', () => {
    expect(delayBeforeAttempt(schedule, 2, () => 0)).toBe(4500);
    expect(delayBeforeAttempt(schedule, 2, () => 1)).toBe(5500);
    expect(delayBeforeAttempt([0], 1, () => 1)).toBe(0);
  });
});

describe('longestRetryWaitMs', () => {
  it('is the largest wait between two attempts, with the most jitter; 0 without retries', () => {
    expect(longestRetryWaitMs([0, 5, 300_000, 60])).toBe(330_000_000);
    expect(longestRetryWaitMs([0, 1])).toBe(1100);
    // The first entry delays the first attempt: it is no wait between attempts.
    expect(longestRetryWaitMs([600])).toBe(0);
  });
});
