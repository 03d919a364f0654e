import type { Job, Queue } from 'bullmq';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  what?: string;
}

/**
 * Polls `probe` until it returns a truthy value or the deadline passes. Tests wait on
 * observable state this way instead of sleeping and hoping.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, { timeoutMs = 10000, intervalMs = 25, what = 'condition' }: WaitOptions = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The job once BullMQ has it in `state` (e.g. `delayed` after a deferral, `failed` after
 * the handler threw): a row the job writes is committed before BullMQ moves the job.
 */
export function waitForJobState(queue: Queue, jobId: string, state: 'delayed' | 'failed' | 'completed', o: WaitOptions = {}): Promise<Job> {
  // State first, then the job: a job read before its state changes can carry the fields
  // of before (attemptsMade, failedReason) while its state, read after, is already the one.
  return waitFor(async () => ((await queue.getJobState(jobId)) === state ? queue.getJob(jobId) : undefined), { what: `job ${jobId} to be ${state}`, ...o });
}

/**
 * Waits until the job `jobId` of `queue` has completed: its state is `completed`, or it is
 * gone — media batch jobs are removed on completion (src/jobs/job-options.ts), and a failed
 * one is kept. Times out (with its last state) if it fails or never finishes.
 */
export async function waitForJobDone(queue: Queue, jobId: string, o: WaitOptions = {}): Promise<void> {
  let last = 'never read';
  await waitFor(
    async () => {
      last = await queue.getJobState(jobId);
      return last === 'completed' || last === 'unknown';
    },
    { ...o, what: `${o.what ?? `job ${jobId}`} to complete (last state: ${last})` },
  );
}

/** The BullMQ states in which a job still has work to do (or to wait for). */
export const BUSY_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

export interface QueuesIdleOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /**
   * Jobs that may stay busy, e.g. the stream job that holds a live stream: the queues
   * count as idle once every other job is done.
   */
  except?: (job: Job, queue: Queue) => boolean;
}

/** What is still busy on one queue: per-state counts (the excepted jobs left out) and job ids. */
async function busyOf(queue: Queue, except: QueuesIdleOptions['except']): Promise<string | null> {
  const counts = await queue.getJobCounts(...BUSY_STATES);
  if (BUSY_STATES.every((s) => !counts[s])) return null;
  if (!except) return BUSY_STATES.filter((s) => counts[s]).map((s) => `${s} ${counts[s]}`).join(', ');
  const busy: string[] = [];
  for (const state of BUSY_STATES) {
    if (!counts[state]) continue;
    const jobs = (await queue.getJobs([state])).filter((j) => j && !except(j, queue));
    if (jobs.length > 0) busy.push(`${state} ${jobs.length} [${jobs.map((j) => j.id).join(', ')}]`);
  }
  return busy.length > 0 ? busy.join(', ') : null;
}

/**
 * Waits until the given BullMQ queues are quiescent: no job waiting, active, delayed,
 * prioritized or waiting for children (apart from `except`ed ones), polled with a
 * deadline. A test that must prove something did NOT happen waits for this, so every
 * job that could have done it has finished, instead of sleeping. The error names the
 * queues that never went idle and what was left on them.
 */
export async function waitForQueuesIdle(queues: Queue[], { timeoutMs = 10000, intervalMs = 25, except }: QueuesIdleOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy = (await Promise.all(queues.map(async (q) => ({ q, busy: await busyOf(q, except) })))).filter((b) => b.busy !== null);
    if (busy.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for the queues to go idle; still busy: ${busy.map((b) => `${b.q.name} (${b.busy})`).join('; ')}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
