import { performance } from 'node:perf_hooks';

/** Lease timing of stream jobs; why these values: stream-run.processor.ts. */
export const STREAM_LOCK_DURATION_MS = 1600;
export const STREAM_LOCK_RENEW_MS = 600;
/** Sockets close this long before the lock could expire: covers a late timer and the close itself. */
export const STREAM_LEASE_MARGIN_MS = 400;
export const STREAM_STALLED_INTERVAL_MS = 1000;
/** The stalled check's interval once expiry notifications detect crashes: only a backstop. */
export const STREAM_STALLED_BACKSTOP_MS = 5000;

/**
 * The stream's lease is its BullMQ job lock (`<prefix>:<queue>:<jobId>:lock`, set with
 * PX lockDuration when the job was fetched and again at each renewal). The holder must
 * have closed its sockets before the lock can expire, or a standby could connect while
 * the old connection is still up (two live connections for one stream).
 *
 * So the holder fences itself on its own clock: the lock set by a request sent at t
 * cannot expire before t + lockDuration (Redis starts the TTL when it runs the command,
 * which is after we sent it), so the lease is trusted until t + lockDuration − margin,
 * where t is the send time of the last renewal Redis confirmed. If no renewal is
 * confirmed in time (Redis blip, slow reply, event loop stalled), `expired` fires and
 * the sockets close with `margin` to spare. The clock is monotonic (performance.now), so
 * a wall-clock step cannot stretch the lease. No Redis command is spent on it: the
 * renewals BullMQ makes anyway are the proof of holding.
 */
export class StreamLease {
  private validUntil: number;
  private timer?: NodeJS.Timeout;
  private onExpired?: () => void;
  private ended = false;

  /**
   * @param firstSentAt monotonic time (ms) at or before which the lock was set (the
   *   job's fetch request; see monotonicFromWallClock).
   */
  constructor(
    private readonly lockDurationMs: number,
    private readonly marginMs: number,
    firstSentAt: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.validUntil = firstSentAt + lockDurationMs - marginMs;
  }

  /** Monotonic ms until which the lease is trusted. */
  get trustedUntil(): number {
    return this.validUntil;
  }

  /** True while the lease can still be trusted. */
  get valid(): boolean {
    return !this.ended && this.now() < this.validUntil;
  }

  /** Starts watching: `onExpired` is called once, when the lease can no longer be trusted. */
  watch(onExpired: () => void): void {
    this.onExpired = onExpired;
    this.arm();
  }

  /** A renewal sent at `sentAt` (monotonic ms) was confirmed by Redis. */
  renewed(sentAt: number): void {
    if (this.ended) return;
    this.validUntil = Math.max(this.validUntil, sentAt + this.lockDurationMs - this.marginMs);
    this.arm();
  }

  /** Lost outright (BullMQ could not renew: the lock is gone or someone else's). */
  lost(): void {
    this.validUntil = -Infinity;
    if (this.onExpired) this.fire();
  }

  stop(): void {
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.ended || !this.onExpired) return;
    if (this.timer) clearTimeout(this.timer);
    const left = this.validUntil - this.now();
    if (left <= 0) return this.fire();
    // A timer may fire late (busy loop) but never early; fire() checks the clock again.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.now() >= this.validUntil) this.fire();
      else this.arm();
    }, Math.ceil(left));
  }

  private fire(): void {
    if (this.ended) return;
    const cb = this.onExpired;
    this.stop();
    cb?.();
  }
}

/** A wall-clock instant (e.g. BullMQ's `processedOn`, taken when the fetch was sent) on the monotonic clock. */
export function monotonicFromWallClock(wallMs: number): number {
  return performance.now() - (Date.now() - wallMs);
}
