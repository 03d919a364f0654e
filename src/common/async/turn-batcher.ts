interface Pending<I, O> {
  input: I;
  resolve: (output: O) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: every call made in the same event-loop turn (up to `maxBatch`) goes to
 * one `flush` call, e.g. one SQL statement for many concurrent jobs. An idle process pays
 * nothing (a batch of one, flushed on setImmediate); a busy one makes one round trip per
 * batch instead of one per call, so a small connection pool serves many jobs. `flush`
 * answers every input in order, or throws (every caller of the batch then rejects).
 */
export class TurnBatcher<I, O> {
  private pending: Array<Pending<I, O>> = [];
  private scheduled = false;

  constructor(
    private readonly flushFn: (inputs: I[]) => Promise<O[]>,
    private readonly maxBatch = 200,
  ) {}

  run(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (this.pending.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.flushFn(batch.map((p) => p.input)).then(
      (outputs) => batch.forEach((p, i) => p.resolve(outputs[i])),
      (err: unknown) => batch.forEach((p) => p.reject(err)),
    );
  }
}
