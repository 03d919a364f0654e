import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import { Job, JobsOptions, Queue } from 'bullmq';
import { JOB_QUEUE, JobName } from './job-names';
import { JobOf } from './job-payloads';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/app.config';
import { jobIdFor } from './job-ids';
import { jobOptionsFor } from './job-options';
import { QueueName } from './queue-names';

/** A job in this state will still run (waiting, delayed, active…): not finished, not gone. */
export function isLiveJobState(state: string): boolean {
  return state !== 'completed' && state !== 'failed' && state !== 'unknown';
}

/**
 * The only place that adds jobs. Producers name a job and pass its typed payload; they
 * never need to know which process consumes it.
 */
@Injectable()
export class JobProducer {
  private readonly logger = new Logger(JobProducer.name);
  private readonly queues: Record<QueueName, Queue>;

  constructor(
    @InjectQueue(QueueName.ZoomEvents) zoomEvents: Queue,
    @InjectQueue(QueueName.RtmsControl) rtmsControl: Queue,
    @InjectQueue(QueueName.RtmsStreams) rtmsStreams: Queue,
    @InjectQueue(QueueName.MediaFrames) mediaFrames: Queue,
    @InjectQueue(QueueName.ZoomRooms) zoomRooms: Queue,
    @InjectQueue(QueueName.OAuth) oauth: Queue,
    @InjectQueue(QueueName.AppWebhooks) appWebhooks: Queue,
    @InjectQueue(QueueName.Maintenance) maintenance: Queue,
    @InjectQueue(QueueName.MediaCompose) mediaCompose: Queue,
    private readonly config: ConfigService<AppConfig, true>,
  ) {
    this.queues = {
      [QueueName.ZoomEvents]: zoomEvents,
      [QueueName.RtmsControl]: rtmsControl,
      [QueueName.RtmsStreams]: rtmsStreams,
      [QueueName.MediaFrames]: mediaFrames,
      [QueueName.ZoomRooms]: zoomRooms,
      [QueueName.OAuth]: oauth,
      [QueueName.AppWebhooks]: appWebhooks,
      [QueueName.Maintenance]: maintenance,
      [QueueName.MediaCompose]: mediaCompose,
    };
  }

  /** Adds a job with its options from src/jobs (id, retries); `opts` adds a delay or the like. */
  async enqueue<N extends JobName>(name: N, data: JobOf<N>, opts?: JobsOptions): Promise<Job<JobOf<N>>> {
    const queue = this.queueFor(name);
    const job = (await queue.add(name, data, { ...this.optionsFor(name, data), ...opts })) as Job<JobOf<N>>;
    this.logger.debug(`Enqueued ${name} (job ${job.id}) on ${queue.name}`);
    return job;
  }

  /** The BullMQ state of this payload's job (by its deterministic id); 'unknown' when there is none. */
  async jobState<N extends JobName>(name: N, data: JobOf<N>): Promise<string> {
    const id = jobIdFor(name, data);
    return id ? this.queueFor(name).getJobState(id) : 'unknown';
  }

  /**
   * Queues a job again for a sweeper that found its work undone in Postgres. A job of the
   * same deterministic id that is waiting, delayed or running is left alone. One that has
   * finished is still kept by BullMQ (bounded retention), and while it is, a plain add of
   * its id adds nothing: it is removed first. Returns whether a job was queued.
   */
  async requeue<N extends JobName>(name: N, data: JobOf<N>, opts?: JobsOptions): Promise<boolean> {
    if (isLiveJobState(await this.jobState(name, data))) return false;
    const id = jobIdFor(name, data);
    if (id) await this.queueFor(name).remove(id);
    await this.enqueue(name, data, opts);
    return true;
  }

  /** Adds many jobs of one name in one round trip (media batches). */
  async enqueueBulk<N extends JobName>(
    name: N,
    items: Array<{ data: JobOf<N>; opts?: JobsOptions }>,
  ): Promise<Job<JobOf<N>>[]> {
    const queue = this.queueFor(name);
    const jobs = await queue.addBulk(items.map((i) => ({ name, data: i.data, opts: { ...this.optionsFor(name, i.data), ...i.opts } })));
    return jobs as Job<JobOf<N>>[];
  }

  private optionsFor<N extends JobName>(name: N, data: JobOf<N>): JobsOptions {
    return jobOptionsFor(name, data, { zoomRooms: this.config.get('zoomRooms', { infer: true }), queues: this.config.get('queues', { infer: true }) });
  }

  queueFor(name: JobName): Queue {
    return this.queues[JOB_QUEUE[name]];
  }

  queue(name: QueueName): Queue {
    return this.queues[name];
  }

  allQueues(): Queue[] {
    return Object.values(this.queues);
  }
}
