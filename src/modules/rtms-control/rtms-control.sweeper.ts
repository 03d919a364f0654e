import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, LessThan, Repository } from 'typeorm';
import { PeriodicTask } from '../../common/async/periodic-task';
import { errorMessage } from '../../common/errors/error-message';
import { isLiveJobState, JobProducer } from '../../jobs/job-producer.service';
import { ControlRequestStatus, RtmsControlRequestEntity } from './entities/rtms-control-request.entity';
import { RTMS_ACTIONS } from './rtms-actions';
import { RtmsControlRunner } from './rtms-control.runner';

const SWEEP_EVERY_MS = 60_000;
/** A request in flight this long with no live job has lost it (well past the API's enqueue and a worker's takeover). */
const ABANDONED_AFTER_MS = 2 * 60_000;
const BATCH = 100;
const IN_FLIGHT = [ControlRequestStatus.Queued, ControlRequestStatus.Running, ControlRequestStatus.Retrying];

/**
 * Safety net for control requests whose job is gone while the request still says it is in
 * flight: the API crashed between saving the request and queueing its job, Redis lost
 * the job, or its last attempt failed while Postgres could not record that. Such a request
 * would hold the session's one in-flight slot for ever (every later start/stop/pause/resume
 * refused with 409). It is failed instead, with what happened, so the app sees the outcome
 * and may ask again; it is not re-run, as a control call made minutes late could surprise
 * whoever asked. Runs in processes that consume rtms-control.
 */
@Injectable()
export class RtmsControlSweeper extends PeriodicTask {
  private readonly logger = new Logger(RtmsControlSweeper.name);
  protected readonly intervalMs = SWEEP_EVERY_MS;

  constructor(
    @InjectRepository(RtmsControlRequestEntity) private readonly requests: Repository<RtmsControlRequestEntity>,
    private readonly runner: RtmsControlRunner,
    private readonly producer: JobProducer,
  ) {
    super();
  }

  protected tick(): Promise<number> {
    return this.sweep();
  }

  /** One pass over requests in flight for longer than `olderThanMs`; returns how many it failed. */
  async sweep(olderThanMs = ABANDONED_AFTER_MS): Promise<number> {
    try {
      const stale = await this.requests.find({
        where: { status: In(IN_FLIGHT), updatedAt: LessThan(new Date(Date.now() - olderThanMs)) },
        order: { createdAt: 'ASC' },
        take: BATCH,
      });
      let failed = 0;
      for (const req of stale) {
        const lost = await this.lostJob(req);
        if (!lost) continue;
        await this.runner.finalFailure(req.id, new Error(lost));
        failed++;
      }
      if (failed > 0) this.logger.warn(`Failed ${failed} RTMS control request(s) whose job was gone`);
      return failed;
    } catch (err) {
      this.logger.warn(`RTMS control sweep failed: ${errorMessage(err)}`);
      return 0;
    }
  }

  /** Why the request's job will not settle it, or null while it is live. */
  private async lostJob(req: RtmsControlRequestEntity): Promise<string | null> {
    const state = await this.producer.jobState(RTMS_ACTIONS[req.action].job, { sessionId: req.sessionId, requestId: req.id });
    if (isLiveJobState(state)) return null;
    return state === 'unknown' ? 'its job was lost (never queued, or removed from Redis)' : `its job ended (${state}) without recording an outcome`;
  }
}
