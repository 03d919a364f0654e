/**
 * Backoff with full jitter inside Zoom's reconnection window: an outage starts at the
 * first failure; each retry waits base·2ⁿ (capped) scaled by a random factor in
 * [0.5, 1], never past the window's end; after the window the stream is given up.
 */
export class ReconnectPolicy {
  private startedAt: number | null = null;
  private attempt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** Marks the start of an outage (kept if one is already running). */
  begin(): void {
    if (this.startedAt === null) {
      this.startedAt = this.now();
      this.attempt = 0;
    }
  }

  /** A connection succeeded: the outage is over. */
  reset(): void {
    this.startedAt = null;
    this.attempt = 0;
  }

  get outageMs(): number {
    return this.startedAt === null ? 0 : this.now() - this.startedAt;
  }

  get attempts(): number {
    return this.attempt;
  }

  /** Delay before the next attempt, or null when the window is used up. */
  nextDelay(windowMs: number): number | null {
    this.begin();
    const left = windowMs - this.outageMs;
    if (left <= 0) return null;
    const exp = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 20));
    this.attempt += 1;
    const jittered = Math.round(exp * (0.5 + this.random() / 2));
    return Math.min(jittered, left);
  }
}
