import { JobsOptions } from 'bullmq';
import { AppConfig } from '../config/app.config';
import { jobIdFor } from './job-ids';
import { JobName } from './job-names';
import { JobOf } from './job-payloads';

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
  // A composition retries what can pass (storage unavailable): 8 attempts from 5 s doubling
  // wait ~10 minutes in all; then recording.ready says storage_unavailable.
  [JobName.RecordingCompose]: { attempts: 8, backoff: { type: 'exponential', delay: 5000 } },
  // Zoom requires a deauthorized user's tokens to be deleted: the deletion outlasts a
  // database failover or an outage of about an hour (12 attempts from 2 s doubling wait
  // ~68 minutes in all) before the event is marked failed (OAuthDeauthorizer). BullMQ's
  // exponential backoff has no cap, so the last waits are long (17, then 34 minutes).
  [JobName.OAuthDeauthorize]: { attempts: 12, backoff: { type: 'exponential', delay: 2000 } },
  // A proactive refresh keeps an idle connection's grant alive: it outlasts an outage of
  // Zoom or the database of about an hour (8 attempts from 30 s doubling wait ~64 minutes
  // in all; a 429 waits its Retry-After without using one: oauth.processor.ts). After
  // that the OAuth refresh sweeper queues it again (oauth-refresh.sweeper.ts).
  [JobName.TokenRefresh]: { attempts: 8, backoff: { type: 'exponential', delay: 30_000 } },
};

/**
 * How long a given-up media batch (frame.save, chat.save, transcript.save) stays in Redis
 * with its media, for Bull Board's Retry. Erasure keeps its "refuse their media" marker at
 * least this long (ErasedParticipants): a retry must not save an erased person's media.
 */
export const FAILED_MEDIA_JOB_KEEP_SEC = 7 * 24 * 3600;

/** Jobs whose payload is the media itself (base64 frames, chat, transcript lines): up to MEDIA_BATCH_MAX_BYTES each. */
const MEDIA_BATCH_JOBS: ReadonlySet<JobName> = new Set([JobName.FrameSave, JobName.TranscriptSave, JobName.ChatSave]);

/**
 * The options a job gets when it is added: its per-job overrides, those that come from
 * configuration, and its deterministic id. The producer applies these to every job;
 * a caller adds only what is about this one job (a delay).
 */
export function jobOptionsFor<N extends JobName>(name: N, data: JobOf<N>, config: Pick<AppConfig, 'zoomRooms' | 'queues'>): JobsOptions {
  const opts: JobsOptions = { ...JOB_OPTIONS[name] };
  if (MEDIA_BATCH_JOBS.has(name)) {
    // A finished media batch keeps its payload in Redis, which runs with noeviction: the
    // default retention (JOB_KEEP_COMPLETED / JOB_KEEP_FAILED per queue) would hold GBs of
    // media that is already stored (completed) or already reported as media.lost (failed).
    // Saved batches go at once; the newest given-up ones stay for Bull Board's Retry.
    opts.removeOnComplete = true;
    opts.removeOnFail = { age: FAILED_MEDIA_JOB_KEEP_SEC, count: config.queues.keepFailedMedia };
  }
  if (name === JobName.RoomJoin || name === JobName.RoomLeave) {
    // Room calls have their own retry budget (ZOOM_ROOMS_ATTEMPTS, ZOOM_ROOMS_BACKOFF_MS).
    opts.attempts = config.zoomRooms.attempts;
    opts.backoff = { type: 'exponential', delay: config.zoomRooms.backoffMs };
  }
  const jobId = jobIdFor(name, data);
  if (jobId !== undefined) opts.jobId = jobId;
  return opts;
}
