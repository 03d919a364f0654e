/** RTMS msg_type of an audio packet: the simulator sends one every 100 ms while a media socket is up. */
export const AUDIO = 14;

/**
 * Watches how many audio packets the simulator has sent for a stream (it sends only over
 * a live media socket), every 20 ms: the longest pause between two packets is the hole
 * in the media, and when it ended says when the stream was streaming again.
 */
export class MediaGapMeter {
  private readonly changes: number[] = [];
  private last = -1;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly sent: () => number) {
    this.timer = setInterval(() => this.sample(), 20);
  }

  private sample(): void {
    const n = this.sent();
    if (n !== this.last) this.changes.push(Date.now());
    this.last = n;
  }

  /** Packets seen since `at`. */
  since(at: number): number {
    return this.changes.filter((t) => t >= at).length;
  }

  /** The longest pause between two packets that ended after `at`, and when it ended. */
  longestPauseEndingAfter(at: number): { pauseMs: number; resumedAt: number } {
    let best = { pauseMs: 0, resumedAt: at };
    for (let i = 1; i < this.changes.length; i++) {
      const pause = this.changes[i] - this.changes[i - 1];
      if (this.changes[i] > at && pause > best.pauseMs) best = { pauseMs: pause, resumedAt: this.changes[i] };
    }
    return best;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
