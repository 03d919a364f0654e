import { JobsOptions } from 'bullmq';
import { AppConfig } from '../config/app.config';
import { JobName } from './job-names';

/** Central defaults for every job: bounded retries and bounded retention. */
export function defaultJobOptions(queues: AppConfig['queues']): JobsOptions {
  return {
    attempts: queues.attempts,
    backoff: { type: 'exponential', delay: queues.backoffMs },
    removeOnComplete: { age: 24 * 3600, count: queues.keepCompleted },
    removeOnFail: { age: 7 * 24 * 3600, count: queues.keepFailed },
  };
}

/** Per-job overrides, kept next to the job names they modify. */
export const JOB_OPTIONS: Partial<Record<JobName, JobsOptions>> = {
  // A stream job lives as long as the meeting; its retries are reconnects handled
  // inside the job, so BullMQ only re-runs it after a crash or a hand-over.
  [JobName.StreamRun]: { attempts: 20, backoff: { type: 'exponential', delay: 1000 } },
};
