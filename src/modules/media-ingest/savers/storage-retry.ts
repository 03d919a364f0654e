import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Job, UnrecoverableError } from 'bullmq';
import { AppConfig } from '../../../config/app.config';
import type { MediaBatchPayload } from '../../../jobs/job-payloads';
import { deferJobUntil } from '../../../jobs/queue-processor';
import { storageErrorSummary, storageRetryDelayMs, StorageUnavailableError } from '../storage/storage-errors';
import { StoragePendingLedger } from '../storage/storage-pending';
import { LossReason, MediaLossRecorder } from './media-loss';

/** Bytes a batch keeps in Redis while it waits (its items' data, which dominates the payload). */
export function payloadBytes(p: MediaBatchPayload): number {
  let n = 0;
  for (const s of p.streams) for (const item of s.items) n += item.data.length + 64;
  return n;
}

export type StorageRetryDecision = { action: 'retry'; at: number; tries: number } | { action: 'give_up'; reason: LossReason; since: number };

/**
 * When a media batch waits for storage. Pure, for tests: the first failure starts the
 * window; retries back off from base·2ⁿ up to the max delay, never past the window's end
 * (so the last try is at the end); a failure at or after the end gives up.
 */
export function decideStorageRetry(now: number, entry: { since: number; tries: number }, retry: AppConfig['storage']['retry'], random?: () => number): StorageRetryDecision {
  const end = entry.since + retry.windowMs;
  if (now >= end) return { action: 'give_up', reason: 'retry_window', since: entry.since };
  const tries = entry.tries + 1;
  return { action: 'retry', tries, at: Math.min(now + storageRetryDelayMs(tries, retry.baseMs, retry.maxDelayMs, random), end) };
}

/**
 * Media batches that storage could not take wait for it as delayed BullMQ jobs (their
 * payload already lives in Redis), without using their attempts: a storage outage
 * shorter than STORAGE_RETRY_WINDOW_SEC loses nothing. The bytes waiting are bounded by
 * STORAGE_PENDING_MAX_BYTES (the ledger); beyond it, or after the window, the batch is
 * recorded as lost (MediaLossRecorder) and fails for good, staying in the failed list.
 */
@Injectable()
export class StorageRetryPolicy {
  private readonly logger = new Logger('StorageRetry');
  private readonly retry: AppConfig['storage']['retry'];

  constructor(
    private readonly ledger: StoragePendingLedger,
    private readonly loss: MediaLossRecorder,
    config: ConfigService<AppConfig, true>,
  ) {
    this.retry = config.get('storage', { infer: true }).retry;
  }

  /** Defers the job until its next storage retry, or gives it up. Always throws (DelayedError or UnrecoverableError). */
  async waitForStorage(job: Job<MediaBatchPayload>, err: StorageUnavailableError): Promise<never> {
    const id = String(job.id);
    const now = Date.now();
    // What is left to write is all the retry needs (and all a retry from Bull Board would redo).
    if (countItems(err.remaining) < countItems(job.data)) await job.updateData(err.remaining);
    let entry = await this.ledger.get(id);
    if (!entry) {
      entry = await this.ledger.add(id, { since: now, tries: 0, bytes: payloadBytes(err.remaining), items: err.unsaved }, this.retry.pendingMaxBytes);
      if (!entry) return this.giveUp(job, err, 'pending_budget', now);
    }
    const decision = decideStorageRetry(now, entry, this.retry);
    if (decision.action === 'give_up') return this.giveUp(job, err, decision.reason, decision.since);
    await this.ledger.update(id, { ...entry, tries: decision.tries, items: err.unsaved });
    this.logger.debug(`Job ${job.name} ${id}: storage unavailable, retry ${decision.tries} in ${decision.at - now} ms`);
    return deferJobUntil(job, decision.at);
  }

  /** The job's media is stored: it waits no more. */
  async saved(job: Job): Promise<void> {
    // A batch saved on its first run never waited: no Redis round trip for it.
    if ((job.attemptsStarted ?? 0) <= 1 && job.attemptsMade === 0) return;
    await this.ledger.remove(String(job.id));
  }

  private async giveUp(job: Job<MediaBatchPayload>, err: StorageUnavailableError, reason: LossReason, since: number): Promise<never> {
    await this.ledger.remove(String(job.id));
    const waitedS = Math.round((Date.now() - since) / 1000);
    const why =
      reason === 'pending_budget'
        ? `storage unavailable and ${this.retry.pendingMaxBytes} bytes (STORAGE_PENDING_MAX_BYTES) already waiting`
        : `storage unavailable for ${waitedS} s (STORAGE_RETRY_WINDOW_SEC ${this.retry.windowMs / 1000})`;
    const error = `${why}: ${storageErrorSummary(err.firstCause)}`;
    await this.loss.record(reason, err.remaining, { error, firstFailureAt: since, jobId: String(job.id) });
    throw new UnrecoverableError(`media given up (${reason}): ${error}`);
  }
}

function countItems(p: MediaBatchPayload): number {
  return p.streams.reduce((n, s) => n + s.items.length, 0);
}
