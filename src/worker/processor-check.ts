import { JOB_QUEUE, JobName, jobsOfQueue } from '../jobs/job-names';
import { QueueName } from '../jobs/queue-names';
import { ProcessorRegistration } from './processor-registration';

export interface ProcessorPlan {
  /** Registrations to load in this process. */
  selected: ProcessorRegistration[];
  /** Queues with no processor in this build (jobs there wait for a build that has one). */
  unconsumed: QueueName[];
}

/**
 * Boot check: in the queues this process consumes, every job name must have exactly one
 * handler, and a processor may only handle jobs of its own queue. A queue named
 * explicitly in WORKER_QUEUES must have a processor.
 */
export function planProcessors(
  queues: QueueName[],
  registrations: ProcessorRegistration[],
  explicit: boolean,
): ProcessorPlan {
  const problems: string[] = [];
  const selected: ProcessorRegistration[] = [];
  const unconsumed: QueueName[] = [];

  for (const queue of queues) {
    const regs = registrations.filter((r) => r.queue === queue);
    if (regs.length === 0) {
      if (explicit) problems.push(`queue "${queue}" is in WORKER_QUEUES but has no processor in this build`);
      unconsumed.push(queue);
      continue;
    }
    if (regs.length > 1) problems.push(`queue "${queue}" has ${regs.length} processors; exactly one is allowed`);
    const handled = new Map<JobName, number>();
    for (const reg of regs) {
      for (const job of reg.handles) {
        if (JOB_QUEUE[job] !== queue) problems.push(`${reg.processor.name} handles "${job}", which belongs to queue "${JOB_QUEUE[job]}"`);
        handled.set(job, (handled.get(job) ?? 0) + 1);
      }
    }
    for (const job of jobsOfQueue(queue)) {
      const count = handled.get(job) ?? 0;
      if (count !== 1) problems.push(`job "${job}" on queue "${queue}" has ${count} handlers; exactly one is required`);
    }
    selected.push(...regs);
  }

  if (problems.length > 0) throw new Error(`Worker processor check failed:\n  - ${problems.join('\n  - ')}`);
  return { selected, unconsumed };
}
