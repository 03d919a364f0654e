import { Controller, Delete, Get, HttpCode, Inject, Injectable, Logger, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import Redis from 'ioredis';
import { ApiCaller, Caller } from '../../../common/auth/api-caller';
import { RequireRole } from '../../../common/auth/require-role.decorator';
import { MediaErrorCode } from '../../../common/errors/error-codes';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { JobProducer } from '../../../jobs/job-producer.service';
import { QueueName } from '../../../jobs/queue-names';
import { MediaError } from '../media.errors';
import { listWorkers, requestDrain, WorkerRegistration, workersMatching } from './stream-workers.registry';

/** A live stream worker as the API shows it. */
export function workerView(w: WorkerRegistration) {
  return { id: w.id, spool_host: w.spoolHost, hostname: w.hostname, pid: w.pid, streams: w.running, cap: w.cap, draining: w.draining, last_seen_at: new Date(w.at).toISOString() };
}

/** The stream workers' registrations and drain flags, for the admin API (the same ones `npm run worker:drain` uses). */
@Injectable()
export class StreamWorkersAdmin {
  private readonly logger = new Logger(StreamWorkersAdmin.name);
  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly producer: JobProducer,
  ) {}

  private get qn(): string {
    return this.producer.queue(QueueName.RtmsStreams).qualifiedName;
  }

  list(): Promise<WorkerRegistration[]> {
    return listWorkers(this.redis, this.qn);
  }

  /** Sets or clears the drain flag of the live workers `target` names (id, SPOOL_HOST_ID or host name). */
  async drain(target: string, drain: boolean, caller: ApiCaller): Promise<WorkerRegistration[]> {
    const matched = workersMatching(await this.list(), target);
    if (matched.length === 0) throw new MediaError(MediaErrorCode.StreamWorkerNotFound, 'No live stream worker has this id, spool host or host name', { target: target.slice(0, 256) });
    await requestDrain(this.redis, this.qn, matched.map((w) => w.id), drain);
    this.logger.log(`${drain ? 'Drain requested' : 'Drain cancelled'} by key "${caller.name}" for ${matched.map((w) => w.id).join(', ')}`);
    return matched;
  }
}

/** Rolling deploys: list the stream workers, drain one (docs/operations.md). Unscoped admin keys only. */
@ApiTags('stream-workers')
@Controller('stream-workers')
@RequireRole('admin', { everyOwner: true })
@ApiSecurity('api-key')
export class StreamWorkersController {
  constructor(private readonly workers: StreamWorkersAdmin) {}

  @Get()
  @ApiOperation({ summary: 'Live stream workers: spool host, streams held, cap, draining' })
  async list() {
    return { data: (await this.workers.list()).map(workerView) };
  }

  @Post(':target/drain')
  @HttpCode(202)
  @ApiOperation({ summary: 'Drain the workers a worker id, SPOOL_HOST_ID or host name names: no new streams, theirs handed over one at a time' })
  async drain(@Param('target') target: string, @Caller() caller: ApiCaller) {
    return { data: (await this.workers.drain(target, true, caller)).map((w) => ({ ...workerView(w), drain_requested: true })) };
  }

  @Delete(':target/drain')
  @ApiOperation({ summary: 'Cancel a drain: the workers take streams again' })
  async undrain(@Param('target') target: string, @Caller() caller: ApiCaller) {
    return { data: (await this.workers.drain(target, false, caller)).map((w) => ({ ...workerView(w), drain_requested: false })) };
  }
}
