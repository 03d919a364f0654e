import { Processor } from '@nestjs/bullmq';
import { JobName } from '../../jobs/job-names';
import type { QueueJob } from '../../jobs/job-payloads';
import { JobProducer } from '../../jobs/job-producer.service';
import { QueueName } from '../../jobs/queue-names';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { MediaSaverService } from './savers/media-saver.service';

/**
 * The savers: media batches from stream workers → storage + rows; revoked-stream purges.
 * (Audio segments are written out by the stream workers that spool them: audio/.)
 */
@Processor(QueueName.MediaFrames)
export class MediaFramesProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.MediaFrames;

  constructor(
    private readonly savers: MediaSaverService,
    private readonly producer: JobProducer,
  ) {
    super();
  }

  protected async handle(job: QueueJob<QueueName.MediaFrames>): Promise<unknown> {
    switch (job.name) {
      case JobName.FrameSave:
        return { saved: await this.savers.saveFrames(job.data) };
      case JobName.TranscriptSave:
        return { saved: await this.savers.saveTranscripts(job.data) };
      case JobName.ChatSave:
        return { saved: await this.savers.saveChat(job.data) };
      case JobName.MediaPurge: {
        const data = job.data;
        const deleted = await this.savers.purgeStream(data.rtmsStreamId);
        if ((data.pass ?? 1) < 2) {
          // Saves already running when the stream was revoked may land after this pass.
          await this.producer.enqueue(JobName.MediaPurge, { rtmsStreamId: data.rtmsStreamId, pass: 2 }, { delay: 10_000 });
        }
        return { deleted };
      }
      default:
        return unknownJob(job);
    }
  }
}
