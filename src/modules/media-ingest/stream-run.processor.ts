import { Processor } from '@nestjs/bullmq';
import { Job, UnrecoverableError, WaitingError } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import type { QueueJob, StreamRunPayload } from '../../jobs/job-payloads';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { QueueName } from '../../jobs/queue-names';
import { EventSource, StreamsService } from '../sessions';
import { RunningStreams } from './stream/running-streams';
import { StreamRunner } from './stream/stream-runner.service';

/**
 * The job lock is the stream's lease. A killed worker stops renewing it; after at most
 * LOCK_DURATION the lock is gone and the next stalled check (every STALLED_INTERVAL)
 * puts the job back in `wait`, where another worker takes it: worst case
 * 6 s + 3 s ≈ 9 s, plus the reconnect itself, inside the 15 s target and Zoom's 60 s
 * signaling window. A stream may be taken over many times in a long meeting, so the
 * stalled limit is high.
 */
export const STREAM_LOCK_DURATION_MS = 6000;
export const STREAM_STALLED_INTERVAL_MS = 3000;
export const STREAM_MAX_STALLED_COUNT = 1000;

/** `stream.run`: holds one RTMS stream for its whole life (docs/media-ingest.md). */
@Processor(QueueName.RtmsStreams, {
  lockDuration: STREAM_LOCK_DURATION_MS,
  stalledInterval: STREAM_STALLED_INTERVAL_MS,
  maxStalledCount: STREAM_MAX_STALLED_COUNT,
})
export class StreamRunProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.RtmsStreams;

  constructor(
    private readonly runner: StreamRunner,
    private readonly running: RunningStreams,
    private readonly streams: StreamsService,
  ) {
    super();
  }

  override onApplicationBootstrap(): void {
    super.onApplicationBootstrap();
    // BullMQ could not extend a lock: that stream's lease is gone, close its sockets.
    this.worker.on('lockRenewalFailed', (jobIds: string[]) => {
      for (const id of jobIds) this.running.abort(id, 'lease_lost');
    });
    // Hand streams back before the worker waits for its active jobs.
    this.worker.on('closing', () => void this.running.abortAll());
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
    const outcome = await this.runner.run(job);
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
        throw new Error(`Stream ${job.id}: lease lost to another worker; sockets closed`);
    }
  }

  protected override async onFinalFailure(job: Job, err: Error): Promise<void> {
    const data = job.data as StreamRunPayload;
    // markFailed is a no-op when the stream already ended (or was failed with a better reason).
    await this.streams.markFailed(data.rtmsStreamId, err.message, EventSource.Worker);
    // No run will drain it any more: its hold on recording.ready goes.
    await this.runner.streamDrained(data.sessionId, data.rtmsStreamId);
  }
}
