import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import { Job, JobsOptions, Queue } from 'bullmq';
import { JOB_QUEUE, JobName } from './job-names';
import { JobOf } from './job-payloads';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/app.config';
import { jobOptionsFor } from './job-options';
import { QueueName } from './queue-names';

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
    return jobOptionsFor(name, data, { zoomRooms: this.config.get('zoomRooms', { infer: true }) });
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
