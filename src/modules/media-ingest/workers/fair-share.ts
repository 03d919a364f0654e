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
  /**
   * The other workers whose registration is fresh (stream-workers.registry.ts,
   * TAKER_FRESH_MS), with those whose drain was requested counted as draining. A crashed
   * or stopping worker must not count: its last registration shows free places it will
   * never fill, and the survivors would refuse its streams as above their share.
   */
  others: WorkerLoad[];
  /** Every stream job there is: active anywhere (this one included), waiting and delayed. */
  demand: number;
  /** Streams a worker may hold above the even share (rounding, arrivals between heartbeats). */
  slack: number;
  /**
   * This job has been put back too often or for too long (isStarving): taken regardless of
   * the share or a drain, below the cap. The registrations other workers are judged by are
   * up to a heartbeat old; a stream must not bounce between workers that each think
   * another will take it.
   */
  starving?: boolean;
}

export type FairShareDecision =
  | { admit: true; share: number; reason: 'within_share' | 'only_worker_left' | 'starving' }
  | { admit: false; share: number; reason: 'at_cap' | 'above_share' | 'draining' };

/** A worker that can take streams: fresh, not draining, below its cap. */
const canTake = (w: WorkerLoad) => !w.draining && w.running < w.cap;

export function fairShare(input: FairShareInput): FairShareDecision {
  const { self, others, slack } = input;
  const takers = others.filter(canTake);
  if (self.running >= self.cap) return { admit: false, share: self.cap, reason: 'at_cap' };
  // Nobody else can take it: a stream nobody runs is lost after Zoom's reconnect window,
  // so even a draining worker takes it (and hands it over once another worker is back).
  // A draining worker fetches while no other can take streams (StreamWorkerPresence).
  if (takers.length === 0) return { admit: true, share: self.cap, reason: 'only_worker_left' };
  if (input.starving) return { admit: true, share: self.cap, reason: 'starving' };
  if (self.draining) return { admit: false, share: 0, reason: 'draining' };
  const share = Math.min(self.cap, Math.ceil(Math.max(1, input.demand) / (takers.length + 1)) + slack);
  return self.running < share ? { admit: true, share, reason: 'within_share' } : { admit: false, share, reason: 'above_share' };
}

/** How often a stream job was left for another worker, kept in its job data (`putBacks`). */
export interface PutBacks {
  count: number;
  /** Epoch ms of the first put-back of this streak. */
  since: number;
}

/** Put back this many times, or first put back this long ago, a job is taken by the next worker that fetches it (below its cap). */
export const STARVING_PUT_BACKS = 4;
export const STARVING_AFTER_MS = 1_000;

export function isStarving(putBacks: PutBacks | undefined, now: number): boolean {
  return putBacks !== undefined && (putBacks.count >= STARVING_PUT_BACKS || now - putBacks.since >= STARVING_AFTER_MS);
}

export function nextPutBacks(putBacks: PutBacks | undefined, now: number): PutBacks {
  return { count: (putBacks?.count ?? 0) + 1, since: putBacks?.since ?? now };
}
