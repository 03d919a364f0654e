import { Processor } from '@nestjs/bullmq';
import { Job } from 'bullmq';
import { jobsOfQueue } from '../../src/jobs/job-names';
import { QueueProcessor } from '../../src/jobs/queue-processor';
import { ALL_QUEUES, QueueName } from '../../src/jobs/queue-names';
import { ProcessorRegistration } from '../../src/worker/processor-registration';

export interface HandledJob {
  queue: QueueName;
  name: string;
  id?: string;
  data: unknown;
}

/**
 * One processor per queue that records what it handled, so the worker plumbing
 * (queue selection, registration, concurrency, consumption) can be tested on every
 * queue independently of the feature processors.
 */
export function recordingRegistrations(handled: HandledJob[], queues: readonly QueueName[] = ALL_QUEUES): ProcessorRegistration[] {
  return queues.map((queue) => {
    @Processor(queue)
    class RecordingProcessor extends QueueProcessor {
      protected readonly queueName = queue;
      protected async handle(job: Job): Promise<unknown> {
        handled.push({ queue, name: job.name, id: job.id, data: job.data });
        return { ok: true };
      }
    }
    Object.defineProperty(RecordingProcessor, 'name', { value: `Recording_${queue.replace(/-/g, '_')}` });
    return { queue, processor: RecordingProcessor, handles: jobsOfQueue(queue), imports: [] };
  });
}
