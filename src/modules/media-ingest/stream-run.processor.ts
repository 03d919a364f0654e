import { Processor } from '@nestjs/bullmq';
import { DelayedError, Job, UnrecoverableError, WaitingError } from 'bullmq';
import Redis from 'ioredis';
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../../common/errors/error-message';
import { KeyExpiryWatcher } from '../../common/redis/key-expiry-watcher';
import { JobName } from '../../jobs/job-names';
import type { QueueJob, StreamRunPayload } from '../../jobs/job-payloads';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { QueueName } from '../../jobs/queue-names';
import { renewLocksFromFetch } from '../../jobs/renew-locks-from-fetch';
import { EventSource, StreamsService } from '../sessions';
import { RunningStreams } from './stream/running-streams';
import { StreamRunner } from './stream/stream-runner.service';
import type { StreamOutcome } from './stream/stream-session';
import { nextStartRetry, StreamStartError } from './stream/start-retry';
import { StreamWorkerPresence } from './workers/stream-worker-presence';
import { isStarving, nextPutBacks, PutBacks } from './workers/fair-share';
import { LostSpoolHosts } from './workers/lost-spool-hosts';
import {
  STREAM_LOCK_DURATION_MS,
  STREAM_LOCK_RENEW_MS,
  STREAM_STALLED_BACKSTOP_MS,
  STREAM_STALLED_INTERVAL_MS,
} from './stream/stream-lease';

/**
 * The job lock is the stream's lease (stream/stream-lease.ts). When a worker dies, its
 * streams are silent until another worker reconnects them, and Zoom does not buffer: the
 * hole in the media is permanent. The hole is lease expiry + detection + reconnect:
 *
 * - Expiry: the lock lives STREAM_LOCK_DURATION_MS (1.6 s) from its last renewal. BullMQ
 *   renews every lock older than lockRenewTime/2 on a timer of lockRenewTime/2, so a lock
 *   is renewed every 300–600 ms and a killed worker's locks expire 1.0–1.6 s after the kill.
 *   Shorter would leave the holder too little time for a slow renewal reply on a busy host
 *   (each needless fence costs a reconnect): the reply has lockDuration − margin −
 *   lockRenewTime = 600 ms.
 * - Detection: the moment Redis expires the lock, every standby gets a keyspace
 *   notification (KeyExpiryWatcher) and runs BullMQ's stalled check for that job at once,
 *   which puts it back in `wait`. Where notifications are off, the periodic stalled check
 *   every STREAM_STALLED_INTERVAL_MS finds it (docs/operations.md).
 * - Safety: the holder closes its sockets STREAM_LEASE_MARGIN_MS before its lock could
 *   expire unless a renewal was confirmed (StreamLease), so the takeover cannot overlap it.
 *
 * Load when nothing fails: one batched extendLocks script per worker every ~0.3–0.6 s
 * (it was one per 1.5–3 s plus one GET per stream per second, now gone) and the stalled
 * check: every 1 s when polling is the only detection, every 5 s as a backstop when
 * notifications are on. A stream may be taken over many times in a long meeting, so the
 * stalled limit is high.
 */
export const STREAM_MAX_STALLED_COUNT = 1000;

/**
 * Makes BullMQ's next stalled check move `jobId` if its lock is gone: marks it stalled
 * (the check moves only jobs it marked before, and a renewal unmarks them) and clears the
 * check's throttle key. Does nothing while the lock exists or the job is not active, so a
 * live holder's job is never moved.
 */
const KICK_STALLED = `if redis.call('exists', KEYS[1]) == 0 and redis.call('lpos', KEYS[2], ARGV[1]) then
  redis.call('sadd', KEYS[3], ARGV[1])
  redis.call('del', KEYS[4])
  return 1
end
return 0`;

/** `stream.run`: holds one RTMS stream for its whole life (docs/media-ingest.md). */
@Processor(QueueName.RtmsStreams, {
  lockDuration: STREAM_LOCK_DURATION_MS,
  lockRenewTime: STREAM_LOCK_RENEW_MS,
  stalledInterval: STREAM_STALLED_INTERVAL_MS,
  maxStalledCount: STREAM_MAX_STALLED_COUNT,
})
export class StreamRunProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.RtmsStreams;

  constructor(
    private readonly runner: StreamRunner,
    private readonly running: RunningStreams,
    private readonly streams: StreamsService,
    private readonly expiries: KeyExpiryWatcher,
    private readonly presence: StreamWorkerPresence,
    private readonly lostHosts: LostSpoolHosts,
  ) {
    super();
  }

  override onApplicationBootstrap(): void {
    super.onApplicationBootstrap();
    // BullMQ could not extend a lock: that stream's lease is gone, close its sockets. The
    // job is put back in the queue when the run has wound down (afterLeaseLost), not here:
    // BullMQ tracks locks by job id, so a run of the same job fetched by this worker before
    // the earlier one ended would lose its lock renewals when the earlier one ends.
    this.worker.on('lockRenewalFailed', (jobIds: string[]) => {
      for (const id of jobIds) this.running.abort(id, 'lease_lost');
    });
    this.watchRenewals();
    // A burst of streams (a takeover, a deploy, many meetings at once) must not outlast the
    // lock of the first ones fetched before they start (jobs/renew-locks-from-fetch.ts).
    if (!renewLocksFromFetch(this.worker)) this.logger.warn('This BullMQ version cannot renew a job lock from its fetch: a burst of stream jobs may start with expired leases');
    this.watchExpiries();
    // Hand streams back before the worker waits for its active jobs.
    this.worker.on('closing', () => void this.running.abortAll());
    // Fair share, drain and the spool-host heartbeat (workers/).
    this.presence.attach(this.worker);
    this.lostHosts.start(this.worker.qualifiedName);
  }

  protected async handle(job: QueueJob<QueueName.RtmsStreams>): Promise<unknown> {
    switch (job.name) {
      case JobName.StreamRun:
        return this.runStream(job);
      default:
        return unknownJob(job.name);
    }
  }

  private async runStream(job: Job<StreamRunPayload>): Promise<unknown> {
    // Shutting down: the runner hands the job straight back, no fair-share check needed.
    const counted = !this.running.closing && (await this.admitOrPutBack(job));
    try {
      return await this.runStreamOutcome(job);
    } finally {
      this.running.jobEnded(job.data.rtmsStreamId);
      if (counted) this.presence.released();
    }
  }

  /**
   * Above this worker's fair share (or draining), the job goes back to the queue for
   * another worker, no attempt used; delayed briefly so this worker does not fetch it
   * again at once. Throws DelayedError then; true when admitted. The put-backs are counted
   * in the job's data (`putBacks`, cleared when a worker takes it): a job put back too
   * often or too long is taken by the next worker below its cap (fair-share.ts isStarving),
   * so stale registrations cannot make every worker leave it to another.
   */
  private async admitOrPutBack(job: Job<StreamRunPayload & { putBacks?: PutBacks }>): Promise<true> {
    const putBacks = job.data.putBacks;
    const starving = isStarving(putBacks, Date.now());
    const admission = await this.presence.admit({ jobId: job.id, starving });
    if (admission.admit) {
      if (putBacks) {
        const { putBacks: _cleared, ...rest } = job.data;
        await job.updateData(rest).catch((err: unknown) => this.logger.warn(`Stream ${job.id}: could not clear its put-back count: ${errorMessage(err)}`));
        if (starving) this.logger.log(`Stream ${job.id} taken after ${putBacks.count} put-back(s) over ${Date.now() - putBacks.since} ms (no longer left to others)`);
      }
      return true;
    }
    this.running.jobEnded(job.data.rtmsStreamId);
    // Uncounted if this write fails: the job is still put back (one more bounce at worst).
    await job.updateData({ ...job.data, putBacks: nextPutBacks(putBacks, Date.now()) }).catch((err: unknown) => this.logger.debug(`Stream ${job.id}: could not count its put-back: ${errorMessage(err)}`));
    await job.moveToDelayed(admission.retryAt, job.token);
    this.logger.debug(`Stream ${job.id} left for another worker (${admission.decision.reason}, share ${admission.decision.share})`);
    throw new DelayedError();
  }

  private async runStreamOutcome(job: Job<StreamRunPayload>): Promise<unknown> {
    let outcome: StreamOutcome;
    try {
      outcome = await this.runner.run(job);
    } catch (err) {
      if (err instanceof StreamStartError) return this.retryStart(job, err);
      throw err;
    }
    switch (outcome.kind) {
      case 'stopped':
        return { outcome: 'stopped', stopReason: outcome.stopReason, worker: this.runner.workerId };
      case 'failed':
        throw new UnrecoverableError(outcome.reason);
      case 'handed_over':
        // Back to `wait` at once (no attempt used) so another worker reconnects now.
        await job.moveToWait(job.token);
        this.logger.log(`Stream ${job.id} handed back to the queue`);
        throw new WaitingError();
      case 'lease_lost':
        return this.afterLeaseLost(job);
    }
  }

  /**
   * The start failed on Postgres or Redis: tried again soon, no attempt used, for as long
   * as the failures go on back to back within the window (stream/start-retry.ts); then the
   * stream fails for good. Throws DelayedError (or the failure).
   */
  private async retryStart(job: Job<StreamRunPayload>, err: StreamStartError): Promise<never> {
    const next = nextStartRetry(job.data.startFailures, Date.now());
    if (!next.retry) throw new UnrecoverableError(`could not start for ${Math.round(next.failingForMs / 60_000)} min: ${errorMessage(err.cause)}`);
    await job.updateData({ ...job.data, startFailures: next.streak });
    await job.moveToDelayed(next.at, job.token);
    // The first failure and then about one a minute: a long outage would otherwise log every stream every 5 s.
    const message = `${err.message}; trying again in ${next.at - Date.now()} ms (failure ${next.streak.count} in a row, no attempt used)`;
    if (next.streak.count % 12 === 1) this.logger.warn(message);
    else this.logger.debug(message);
    throw new DelayedError();
  }

  /**
   * The sockets are closed (the session fenced itself). The job goes back to `wait` now,
   * so a worker reconnects the stream as soon as Redis answers, instead of when a stalled
   * check happens to run (up to STREAM_STALLED_BACKSTOP_MS later):
   * - the lock is still ours (renewals were only slow): hand it back with our token;
   * - the lock is gone and nobody took the job (Redis was unreachable longer than the
   *   lock lives — a primary failover: the promoted replica has no lock, or one that
   *   expired): the same atomic stalled check a standby runs when a lock expires; it
   *   moves the job only while no lock exists, so it can never move one a live holder has;
   * - otherwise another worker holds it already: nothing to do, the failure is harmless.
   * The commands wait for Redis to answer (BullMQ's connections queue them meanwhile).
   */
  private async afterLeaseLost(job: Job<StreamRunPayload>): Promise<never> {
    const id = job.id!;
    if (await job.moveToWait(job.token).then(() => true, () => false)) {
      this.logger.warn(`Stream ${id}: lease could not be confirmed in time; sockets closed, job handed back to the queue`);
      throw new WaitingError();
    }
    if (await this.requeueIfLockGone(id).catch(() => false)) {
      this.logger.warn(`Stream ${id}: lease expired while Redis was unreachable (a failover?); sockets closed, job back in the queue at once`);
      throw new WaitingError();
    }
    throw new Error(`Stream ${id}: lease lost; sockets closed`);
  }

  /**
   * Moves `jobId` back to `wait` through BullMQ's stalled check if its lock is gone and it
   * is still active (KICK_STALLED, then the check at once). False when the lock exists
   * (a live holder: never moved), the job is not active, or this BullMQ has no such check.
   */
  private async requeueIfLockGone(jobId: string): Promise<boolean> {
    const check = this.stalledCheck();
    if (!check) return false;
    const qn = this.worker.qualifiedName;
    // The worker's own connection, which the check runs on too: it queues commands while
    // reconnecting, where the shared client fails fast and may come back later than it.
    const client = (await this.worker.client) as unknown as Redis;
    const kicked = await client.eval(KICK_STALLED, 4, `${qn}:${jobId}:lock`, `${qn}:active`, `${qn}:stalled`, `${qn}:stalled-check`, jobId);
    if (Number(kicked) !== 1) return false;
    await check();
    return true;
  }

  /** BullMQ's stalled check (internal in 5.x), bound to this worker; null if this version has none. */
  private stalledCheck(): (() => Promise<void>) | null {
    const worker = this.worker as unknown as { moveStalledJobsToWait?: () => Promise<void> };
    return typeof worker.moveStalledJobsToWait === 'function' ? worker.moveStalledJobsToWait.bind(this.worker) : null;
  }

  /**
   * Tells each running stream when BullMQ renewed its lock, with the time the renewal was
   * SENT (the only bound the holder can trust: see StreamLease). Wraps the worker's public
   * extendJobLocks, which its lock manager calls for every renewal; no extra command.
   */
  private watchRenewals(): void {
    const worker = this.worker;
    const extend = worker.extendJobLocks.bind(worker);
    worker.extendJobLocks = async (jobIds: string[], tokens: string[], duration: number): Promise<string[]> => {
      const sentAt = performance.now();
      const failed = await extend(jobIds, tokens, duration);
      for (const id of jobIds) if (!failed.includes(id)) this.running.leaseRenewed(id, sentAt);
      return failed;
    };
  }

  /**
   * A stream's lock expired (its holder died): run the stalled check for it now instead of
   * at the next poll. Every standby worker gets the notification; the check is atomic,
   * so the job moves once. moveStalledJobsToWait is BullMQ-internal (5.x): without it, the
   * periodic check stays the only path.
   */
  private watchExpiries(): void {
    const prefix = `${this.worker.qualifiedName}:`;
    const worker = this.worker as unknown as { opts: { stalledInterval?: number } };
    if (!this.stalledCheck()) {
      this.logger.warn('This BullMQ version has no moveStalledJobsToWait: stream takeover relies on the periodic stalled check');
      return;
    }
    this.expiries.watch(
      prefix,
      (key) => {
        if (!key.endsWith(':lock')) return;
        const jobId = key.slice(prefix.length, -':lock'.length);
        void this.requeueIfLockGone(jobId)
          .then((moved) => {
            if (moved) this.logger.warn(`Stream ${jobId}: its lease expired (holder gone); taking it back to the queue now`);
          })
          .catch((err: unknown) => this.logger.warn(`Stream ${jobId}: immediate stalled check failed (the periodic one will run): ${errorMessage(err)}`));
      },
      // The periodic check detects crashes only while notifications are off; otherwise it is a backstop.
      (enabled) => (worker.opts.stalledInterval = enabled ? STREAM_STALLED_BACKSTOP_MS : STREAM_STALLED_INTERVAL_MS),
    );
  }

  protected override async onFinalFailure(job: Job, err: Error): Promise<void> {
    const data = job.data as StreamRunPayload;
    // markFailed is a no-op when the stream already ended (or was failed with a better reason).
    await this.streams.markFailed(data.rtmsStreamId, err.message, EventSource.Worker);
    // No run will drain it any more: its hold on recording.ready goes.
    await this.runner.streamDrained(data.sessionId, data.rtmsStreamId);
  }
}
