import { Processor } from '@nestjs/bullmq';
import { Job } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import { QueueJob } from '../../jobs/job-payloads';
import { QueueName } from '../../jobs/queue-names';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { ErasureService } from './erasure/erasure.service';
import { RetentionSweepService } from './sweep/retention-sweep.service';

/** `maintenance` queue: the retention sweep and erasure requests. */
@Processor(QueueName.Maintenance)
export class MaintenanceProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.Maintenance;

  constructor(
    private readonly sweeper: RetentionSweepService,
    private readonly erasures: ErasureService,
  ) {
    super();
  }

  protected async handle(job: QueueJob<QueueName.Maintenance>): Promise<unknown> {
    switch (job.name) {
      case JobName.RetentionSweep:
        return this.sweeper.sweep();
      case JobName.ErasureRun:
        return this.erasures.run(job.data.erasureId);
      default:
        return unknownJob(job);
    }
  }

  /**
   * An erasure whose job will not run again is marked failed (and its sealed subject cleared).
   * Should that fail too (Postgres down), ErasureSweeper finds the row still running and re-runs it.
   */
  protected override async onFinalFailure(job: Job, err: Error): Promise<void> {
    if (job.name === (JobName.ErasureRun as string)) await this.erasures.markFailed((job.data as { erasureId: string }).erasureId, err.message);
  }
}
