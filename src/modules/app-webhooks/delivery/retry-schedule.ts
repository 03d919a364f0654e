/** ±10 %: retries of many messages after one outage do not all land at the same moment. */
const JITTER = 0.1;

/**
 * Milliseconds to wait before attempt `attemptNo` (1 = the first) under the schedule
 * (seconds before each attempt), or null when the schedule has no such attempt.
 */
export function delayBeforeAttempt(scheduleSec: readonly number[], attemptNo: number, random: () => number = Math.random): number | null {
  const sec = scheduleSec[attemptNo - 1];
  if (sec === undefined) return null;
  if (sec === 0) return 0;
  const factor = 1 + (random() * 2 - 1) * JITTER;
  return Math.round(sec * 1000 * factor);
}

/**
 * The longest a message can wait between two of its attempts under the schedule (its
 * largest retry wait, jitter included); 0 when the schedule has no retry. Failures of an
 * endpoint further apart than this (and an attempt's timeout) were not one continuous run.
 */
export function longestRetryWaitMs(scheduleSec: readonly number[]): number {
  const waits = scheduleSec.slice(1);
  return waits.length === 0 ? 0 : Math.ceil(Math.max(...waits) * 1000 * (1 + JITTER));
}
