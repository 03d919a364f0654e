import { Processor } from '@nestjs/bullmq';
import { OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Job } from 'bullmq';
import { AppConfig } from '../../config/app.config';
import { JobName } from '../../jobs/job-names';
import type { AudioSegmentSavePayload, MediaBatchPayload, MediaPurgePayload } from '../../jobs/job-payloads';
import { JobProducer } from '../../jobs/job-producer.service';
import { QueueName } from '../../jobs/queue-names';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { MediaSaverService } from './savers/media-saver.service';

/** The savers: media batches from stream workers → storage + rows; audio segments → WAV; revoked-stream purges. */
@Processor(QueueName.MediaFrames)
export class MediaFramesProcessor extends QueueProcessor implements OnApplicationShutdown {
  protected readonly queueName = QueueName.MediaFrames;
  private sweeper: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(
    private readonly savers: MediaSaverService,
    private readonly producer: JobProducer,
    private readonly appConfig: ConfigService<AppConfig, true>,
  ) {
    super();
  }

  override onApplicationBootstrap(): void {
    super.onApplicationBootstrap();
    // Audio segments nobody will extend (stream stopped, user muted/left) are written out when idle.
    const idleMs = this.appConfig.get('storage', { infer: true }).audioIdleFinalizeMs;
    this.sweeper = setInterval(() => void this.sweep(idleMs), Math.max(250, Math.floor(idleMs / 2)));
    this.sweeper.unref();
  }

  private async sweep(idleMs: number): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await this.savers.finalizeIdle(idleMs);
    } catch (err) {
      this.logger.warn(`Audio segment sweep failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.sweeping = false;
    }
  }

  onApplicationShutdown(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  protected async handle(job: Job): Promise<unknown> {
    const name = job.name as JobName;
    switch (name) {
      case JobName.FrameSave:
        return { saved: await this.savers.saveFrames(job.data as MediaBatchPayload) };
      case JobName.AudioSegmentSave:
        return { written: await this.savers.finalizeSegment((job.data as AudioSegmentSavePayload).segmentId) };
      case JobName.TranscriptSave:
        return { saved: await this.savers.saveTranscripts(job.data as MediaBatchPayload) };
      case JobName.ChatSave:
        return { saved: await this.savers.saveChat(job.data as MediaBatchPayload) };
      case JobName.MediaPurge: {
        const data = job.data as MediaPurgePayload;
        const deleted = await this.savers.purgeStream(data.rtmsStreamId);
        if ((data.pass ?? 1) < 2) {
          // Saves already running when the stream was revoked may land after this pass.
          await this.producer.enqueue(JobName.MediaPurge, { rtmsStreamId: data.rtmsStreamId, pass: 2 }, { delay: 10_000, jobId: `media-purge-2-${data.rtmsStreamId}` });
        }
        return { deleted };
      }
      default:
        return unknownJob(job.name);
    }
  }
}
