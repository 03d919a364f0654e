/**
 * Whether a stream worker takes one more stream (docs/operations.md, "Balancing streams
 * over workers"). BullMQ workers fetch greedily: the first one to wake up would take up
 * to its concurrency while the others idle. So before a worker runs a `stream.run` it
 * compares its load with its fair share of all the streams there are (running anywhere
 * plus waiting); above it, the job goes back to the queue for another worker.
 */

/** A live stream worker as it registered itself (stream-workers.registry.ts). */
export interface WorkerLoad {
  id: string;
  /** Streams it holds (or is starting). */
  running: number;
  /** Its CONCURRENCY_RTMS_STREAMS. */
  cap: number;
  draining: boolean;
}

export interface FairShareInput {
  /** This worker: its streams before taking this one. */
  self: WorkerLoad;
  /** The other live workers (registration not expired). */
  others: WorkerLoad[];
  /** Every stream job there is: active anywhere (this one included), waiting and delayed. */
  demand: number;
  /** Streams a worker may hold above the even share (rounding, arrivals between heartbeats). */
  slack: number;
}

export type FairShareDecision =
  | { admit: true; share: number; reason: 'within_share' | 'only_worker_left' }
  | { admit: false; share: number; reason: 'at_cap' | 'above_share' | 'draining' };

/** A worker that can take streams: live, not draining, below its cap. */
const canTake = (w: WorkerLoad) => !w.draining && w.running < w.cap;

export function fairShare(input: FairShareInput): FairShareDecision {
  const { self, others, slack } = input;
  const takers = others.filter(canTake);
  if (self.running >= self.cap) return { admit: false, share: self.cap, reason: 'at_cap' };
  // Nobody else can take it: a stream nobody runs is lost after Zoom's reconnect window,
  // so even a draining worker takes it (and hands it over once another worker is back).
  if (takers.length === 0) return { admit: true, share: self.cap, reason: 'only_worker_left' };
  if (self.draining) return { admit: false, share: 0, reason: 'draining' };
  const share = Math.min(self.cap, Math.ceil(Math.max(1, input.demand) / (takers.length + 1)) + slack);
  return self.running < share ? { admit: true, share, reason: 'within_share' } : { admit: false, share, reason: 'above_share' };
}
