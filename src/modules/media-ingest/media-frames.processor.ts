import { Processor } from '@nestjs/bullmq';
import { Job } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import type { MediaBatchPayload, QueueJob } from '../../jobs/job-payloads';
import { JobProducer } from '../../jobs/job-producer.service';
import { QueueName } from '../../jobs/queue-names';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { RecordingHolds } from './recording/recording-holds';
import { RecordingReadyService } from './recording/recording-ready.service';
import { MediaSaverService } from './savers/media-saver.service';
import { StorageRetryPolicy } from './savers/storage-retry';
import { StorageUnavailableError } from './storage/storage-errors';

const MEDIA_BATCH_JOBS: ReadonlySet<string> = new Set([JobName.FrameSave, JobName.TranscriptSave, JobName.ChatSave]);

/**
 * The savers: media batches from stream workers → storage + rows; revoked-stream purges;
 * recording.ready checks. (Audio segments are written out by the stream workers that
 * spool them: audio/.)
 */
@Processor(QueueName.MediaFrames)
export class MediaFramesProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.MediaFrames;

  constructor(
    private readonly savers: MediaSaverService,
    private readonly producer: JobProducer,
    private readonly holds: RecordingHolds,
    private readonly recording: RecordingReadyService,
    private readonly storageRetry: StorageRetryPolicy,
  ) {
    super();
  }

  protected async handle(job: QueueJob<QueueName.MediaFrames>): Promise<unknown> {
    switch (job.name) {
      case JobName.FrameSave:
        return this.saveBatch(job, (p) => this.savers.saveFrames(p));
      case JobName.TranscriptSave:
        return this.batchDone(job.data, { saved: await this.savers.saveTranscripts(job.data) });
      case JobName.ChatSave:
        return this.saveBatch(job, (p) => this.savers.saveChat(p));
      case JobName.MediaPurge: {
        const data = job.data;
        const pass = data.pass ?? 1;
        const deleted = await this.savers.purgeStream(data.rtmsStreamId, pass);
        if (pass < 2) {
          // Saves already running when the stream was revoked may land after this pass.
          await this.producer.enqueue(JobName.MediaPurge, { rtmsStreamId: data.rtmsStreamId, pass: 2 }, { delay: 10_000 });
        }
        return { deleted };
      }
      case JobName.RecordingCheck:
        return { result: await this.recording.check(job.data.sessionId, job.data.deadline ? 'deadline' : 'job') };
      default:
        return unknownJob(job);
    }
  }

  /**
   * A batch written to storage. Storage unavailable: the job waits for it (delayed, no
   * attempt used) until the retry window ends; other errors use the normal attempts.
   */
  private async saveBatch(job: Job<MediaBatchPayload>, save: (p: MediaBatchPayload) => Promise<number>): Promise<{ saved: number }> {
    let saved: number;
    try {
      saved = await save(job.data);
    } catch (err) {
      if (err instanceof StorageUnavailableError) return this.storageRetry.waitForStorage(job, err);
      throw err;
    }
    await this.storageRetry.saved(job);
    return this.batchDone(job.data, { saved });
  }

  /** The batch is saved: its recording holds go, and sessions left with none may be complete. */
  private async batchDone<T>(p: MediaBatchPayload, result: T): Promise<T> {
    await this.releaseBatch(p);
    return result;
  }

  private async releaseBatch(p: MediaBatchPayload): Promise<void> {
    if (!p.batchId) return; // enqueued by an older worker: it held nothing
    const free = await this.holds.release(
      p.streams.map((s) => s.sessionId),
      `batch:${p.batchId}`,
    );
    await this.recording.afterMediaLanded(free);
  }

  /** A batch given up on is in flight no more: its holds go too (the deadline would otherwise wait for it). */
  protected override async onFinalFailure(job: Job, _err: Error): Promise<void> {
    if (MEDIA_BATCH_JOBS.has(job.name)) await this.releaseBatch(job.data as MediaBatchPayload);
  }
}
