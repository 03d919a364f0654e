/**
 * When a stream job cannot start because Postgres or Redis failed (reading the stream row,
 * taking the recording hold), the job is tried again soon without using one of its BullMQ
 * attempts. A stream job lives as long as the meeting and is started again at every
 * takeover, hand-over and deploy; if each infrastructure blip used an attempt, with
 * exponential backoff, a long meeting would wait longer and longer to reconnect (Zoom does
 * not buffer: the wait is a hole in the media) and finally fail for good.
 *
 * So a failed start waits START_RETRY_FIRST_DELAY_MS, doubling to at most
 * START_RETRY_MAX_DELAY_MS, for as long as the failures go on back to back, up to
 * START_RETRY_WINDOW_MS. A start that gets through ends the streak (StreamRunner clears it).
 */
export const START_RETRY_FIRST_DELAY_MS = 500;
export const START_RETRY_MAX_DELAY_MS = 5000;
/** Zoom ends a stream nobody reconnects within about a minute; after an hour the streak is not an outage worth waiting out. */
export const START_RETRY_WINDOW_MS = 60 * 60_000;

/** Back-to-back start failures of one stream job (kept in its data: the next try may run on another worker). */
export interface StartFailureStreak {
  /** Failures so far. */
  count: number;
  /** Epoch ms of the first. */
  since: number;
}

export type StartRetry = { retry: true; at: number; streak: StartFailureStreak } | { retry: false; failingForMs: number };

/** What to do after a start failure at `now`, given the streak before it. */
export function nextStartRetry(previous: StartFailureStreak | undefined, now: number): StartRetry {
  const streak = { count: (previous?.count ?? 0) + 1, since: previous?.since ?? now };
  const failingForMs = now - streak.since;
  if (failingForMs >= START_RETRY_WINDOW_MS) return { retry: false, failingForMs };
  const delay = Math.min(START_RETRY_MAX_DELAY_MS, START_RETRY_FIRST_DELAY_MS * 2 ** Math.min(streak.count - 1, 20));
  return { retry: true, at: now + delay, streak };
}

/** A stream job's start (reads, checks and holds before any socket) failed on infrastructure; `cause` says how. */
export class StreamStartError extends Error {
  constructor(
    readonly rtmsStreamId: string,
    override readonly cause: unknown,
  ) {
    super(`Stream ${rtmsStreamId} could not start: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'StreamStartError';
  }
}
