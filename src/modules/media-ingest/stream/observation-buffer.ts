/**
 * What a stream worker observed and must write to Postgres (an event row, a participant
 * join, a status change…), as steps run in order. A step that fails because Postgres is
 * unreachable is retried; the steps before it are not run again.
 */
export interface Observation {
  /** For logs and metrics: 'event', 'stream_state', 'note', 'runtime', 'end'… */
  kind: string;
  /**
   * `low`: dropped first when the buffer is full (notes such as handshake results,
   * keep-alive times). `high`: participants, speaker, pause/resume, the stream's end.
   */
  priority: 'low' | 'high';
  steps: Array<() => Promise<unknown>>;
}

/** Stream runtime fields that only matter as their latest value (keep-alive time, status). */
export type RuntimeFields = Record<string, unknown>;

export interface ObservationBufferHooks {
  /** True when the error means "Postgres did not answer": the step is retried. */
  isUnavailable(err: unknown): boolean;
  /** A step failed for another reason: the observation is dropped (retrying would fail again). */
  rejected(streamId: string, kind: string, err: unknown): void;
  /** The buffer was full: `kind` (of `streamId`) was dropped to make room. */
  dropped(streamId: string, kind: string, waiting: number): void;
  /** A step failed because Postgres is unreachable; it is retried in `delayMs`. */
  retrying(streamId: string, err: unknown, delayMs: number, waiting: number): void;
  /** A stream's writes went through again after failures. */
  recovered(streamId: string, waiting: number): void;
}

export interface ObservationBufferOptions {
  /** Observations waiting in the whole process, at most. */
  maxWaiting: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

interface Entry {
  seq: number;
  observation: Observation;
  /** Index of the next step to run. */
  step: number;
  runtime?: RuntimeFields;
}

interface StreamQueue {
  entries: Entry[];
  /** The head entry is being written (not to be dropped or merged into). */
  busy: boolean;
  pumping: boolean;
  failures: number;
  wake: (() => void) | null;
  idle: Array<() => void>;
}

/**
 * The stream workers' ordered, bounded write-behind buffer for observations (one per
 * process): per stream, observations are written one at a time in arrival order, so a
 * join is written before the leave and a pause before the resume; when Postgres cannot
 * be reached the head waits and is retried with backoff, and later observations queue
 * behind it. Nothing is dropped silently: a full buffer drops the oldest low-priority
 * observation (else the oldest one) and says so through `hooks.dropped`.
 */
export class ObservationBuffer {
  private readonly streams = new Map<string, StreamQueue>();
  private seq = 0;
  private count = 0;
  private closed = false;

  constructor(
    private readonly options: ObservationBufferOptions,
    private readonly hooks: ObservationBufferHooks,
  ) {}

  /** Observations waiting (including those being written). */
  get waiting(): number {
    return this.count;
  }

  waitingFor(streamId: string): number {
    return this.streams.get(streamId)?.entries.length ?? 0;
  }

  /** Queues an observation behind the stream's earlier ones. */
  push(streamId: string, observation: Observation): void {
    const q = this.queue(streamId);
    this.makeRoom();
    q.entries.push({ seq: ++this.seq, observation, step: 0 });
    this.count++;
    this.pump(streamId, q);
  }

  /**
   * Runtime fields whose latest value is all that matters. `ordered` fields (a status)
   * merge only into a runtime write at the tail, so they stay in order with the rest;
   * others (a keep-alive time) merge into any waiting runtime write of the stream.
   */
  runtime(streamId: string, fields: RuntimeFields, ordered: boolean, write: (fields: RuntimeFields) => Promise<unknown>, priority: 'low' | 'high'): void {
    const q = this.queue(streamId);
    const waiting = q.entries.filter((e, i) => e.runtime && e.step === 0 && !(i === 0 && q.busy));
    const into = ordered ? (waiting.length > 0 && waiting[waiting.length - 1] === q.entries[q.entries.length - 1] ? waiting[waiting.length - 1] : undefined) : waiting[waiting.length - 1];
    if (into) {
      Object.assign(into.runtime!, fields);
      if (priority === 'high') into.observation.priority = 'high';
      return;
    }
    const runtime = { ...fields };
    this.makeRoom();
    q.entries.push({ seq: ++this.seq, observation: { kind: 'runtime', priority, steps: [() => write(runtime)] }, step: 0, runtime });
    this.count++;
    this.pump(streamId, q);
  }

  /**
   * Resolves true when everything queued for the stream so far is written (or dropped),
   * false when `timeoutMs` passed first (what is left keeps being retried).
   */
  settled(streamId: string, timeoutMs: number): Promise<boolean> {
    const q = this.streams.get(streamId);
    if (!q || q.entries.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        q.idle = q.idle.filter((f) => f !== done);
        resolve(false);
      }, timeoutMs);
      q.idle.push(done);
      // A stream waiting to retry tries again now: its end is near.
      q.wake?.();
    });
  }

  /** Resolves with what is still waiting once everything is written or `timeoutMs` passed. */
  async flush(timeoutMs: number): Promise<number> {
    await Promise.all([...this.streams.keys()].map((id) => this.settled(id, timeoutMs)));
    return this.count;
  }

  /** Stops retrying (process exit): returns what is dropped, per kind. */
  close(): Map<string, number> {
    this.closed = true;
    const lost = new Map<string, number>();
    for (const q of this.streams.values()) {
      for (const e of q.entries) lost.set(e.observation.kind, (lost.get(e.observation.kind) ?? 0) + 1);
      q.wake?.();
    }
    return lost;
  }

  private queue(streamId: string): StreamQueue {
    let q = this.streams.get(streamId);
    if (!q) {
      q = { entries: [], busy: false, pumping: false, failures: 0, wake: null, idle: [] };
      this.streams.set(streamId, q);
    }
    return q;
  }

  /** Full: drops the oldest low-priority observation of any stream, else the oldest of all (never one being written). */
  private makeRoom(): void {
    while (this.count >= this.options.maxWaiting) {
      let victim: { streamId: string; q: StreamQueue; index: number; seq: number } | null = null;
      for (const pass of ['low', 'any'] as const) {
        for (const [streamId, q] of this.streams) {
          q.entries.forEach((e, index) => {
            if (index === 0 && q.busy) return;
            if (pass === 'low' && e.observation.priority !== 'low') return;
            if (!victim || e.seq < victim.seq) victim = { streamId, q, index, seq: e.seq };
          });
        }
        if (victim) break;
      }
      if (!victim) return; // only entries being written: let it grow by one
      const v = victim as { streamId: string; q: StreamQueue; index: number };
      const [entry] = v.q.entries.splice(v.index, 1);
      this.count--;
      this.hooks.dropped(v.streamId, entry.observation.kind, this.count);
    }
  }

  private pump(streamId: string, q: StreamQueue): void {
    if (q.pumping) return;
    q.pumping = true;
    void this.drain(streamId, q);
  }

  private async drain(streamId: string, q: StreamQueue): Promise<void> {
    while (q.entries.length > 0 && !this.closed) {
      const entry = q.entries[0];
      q.busy = true;
      let failure: unknown = null;
      try {
        while (entry.step < entry.observation.steps.length) {
          await entry.observation.steps[entry.step]();
          entry.step++;
        }
      } catch (err) {
        failure = err;
      }
      q.busy = false;
      if (failure === null || !this.hooks.isUnavailable(failure)) {
        if (failure !== null) this.hooks.rejected(streamId, entry.observation.kind, failure);
        // It may have been dropped to make room while being written: remove it only if still there.
        const i = q.entries.indexOf(entry);
        if (i >= 0) {
          q.entries.splice(i, 1);
          this.count--;
        }
        if (failure === null && q.failures > 0) {
          q.failures = 0;
          this.hooks.recovered(streamId, this.count);
        }
        continue;
      }
      q.failures++;
      const delay = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** Math.min(q.failures - 1, 16));
      this.hooks.retrying(streamId, failure, delay, this.count);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          q.wake = null;
          resolve();
        }, delay);
        q.wake = () => {
          clearTimeout(timer);
          q.wake = null;
          resolve();
        };
      });
    }
    q.pumping = false;
    if (q.entries.length === 0) {
      this.streams.delete(streamId);
      for (const f of q.idle.splice(0)) f();
    }
  }
}
