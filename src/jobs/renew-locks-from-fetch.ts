import type { Job, Worker } from 'bullmq';

/** The BullMQ 5 worker internals this relies on (checked at run time; absent: not installed). */
interface FetchingWorker {
  nextJobFromJobData(jobData: unknown, jobId?: string, token?: string): Promise<Job | undefined>;
  lockManager?: { trackJob(jobId: string, token: string, ts: number): unknown };
}

/**
 * Makes `worker` renew a job's lock from the moment it fetches the job, not from the moment
 * it starts processing it. Returns false when this BullMQ version lacks the internals.
 *
 * Why: a BullMQ worker fetches the jobs waiting for it one after another (one Redis round
 * trip each) and starts the first only when the burst is fetched (Worker.mainLoop), while
 * its LockManager renews only jobs that have started. Each fetch sets the job's lock for
 * `lockDuration`. So when many jobs arrive together — a takeover of a dead worker's streams,
 * a deploy, a hundred meetings starting at once — the burst can outlast a short lock: the
 * first jobs fetched start with their lock already gone (another worker may take them), and
 * a stream job then fences itself at once. Tracking the job at fetch lets the LockManager's
 * timer renew it like a running job; processing tracks it again (same token) and untracks
 * it when done, as before. Every fetched job is processed, paused or closing, so none is
 * left renewed forever.
 */
export function renewLocksFromFetch(worker: Worker): boolean {
  const w = worker as unknown as FetchingWorker;
  const lockManager = w.lockManager;
  if (typeof w.nextJobFromJobData !== 'function' || typeof lockManager?.trackJob !== 'function') return false;
  const next = w.nextJobFromJobData.bind(worker);
  w.nextJobFromJobData = async (jobData, jobId, token) => {
    const job = await next(jobData, jobId, token);
    if (job?.id && token) lockManager.trackJob(job.id, token, job.processedOn ?? Date.now());
    return job;
  };
  return true;
}
