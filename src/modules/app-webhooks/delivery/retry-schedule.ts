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
