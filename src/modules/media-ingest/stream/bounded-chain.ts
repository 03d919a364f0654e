/**
 * Runs tasks one after another, in order, with at most `max` waiting: past that a new
 * task is refused (returns false) and counted, so a slow database cannot make a stream
 * hold an ever longer promise chain (and everything its closures keep).
 */
export class BoundedChain {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;
  dropped = 0;

  constructor(private readonly max: number) {}

  get pending(): number {
    return this.waiting;
  }

  /** Appends `fn` (run even if the previous task failed); false if the chain is full. */
  push(fn: () => Promise<void>): boolean {
    if (this.waiting >= this.max) {
      this.dropped += 1;
      return false;
    }
    this.waiting += 1;
    const run = () => fn().finally(() => (this.waiting -= 1));
    // A failed task does not stop the next one (each reports its own failure).
    this.tail = this.tail.then(run, run).catch(() => undefined);
    return true;
  }

  /** Settles when every task pushed so far has run. */
  idle(): Promise<void> {
    return this.tail;
  }
}
