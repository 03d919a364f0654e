import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PeriodicTask } from '../../../common/async/periodic-task';
import { errorMessage } from '../../../common/errors/error-message';
import { AppConfig } from '../../../config/app.config';
import { JobName } from '../../../jobs/job-names';
import { JobProducer } from '../../../jobs/job-producer.service';
import { EndedSession, SessionsService } from '../../sessions';
import { RecordingCompletionsRepository } from '../repositories/recording-completions.repository';

const SWEEP_EVERY_MS = 60_000;
/** Past RECORDING_READY_MAX_WAIT_MS, a session's own checks and deadline get this long before the sweep steps in. */
const GRACE_MS = 60_000;
/**
 * How far back the sweep looks. A session that ended earlier without recording.ready is
 * left as it is, so an upgrade does not announce sessions from before recording.ready.
 */
const LOOKBACK_MS = 24 * 3600_000;
const PAGE = 500;

/**
 * Safety net for recording.ready. A session's check is queued after the transaction that
 * ended it commits, and its deadline is armed only by a check that ran, so a crash between
 * that commit and the queueing, a check that failed all its attempts in a Postgres outage,
 * or a deadline job Redis lost would leave the session without recording.ready for good.
 * Every minute this queues the deadline check of each session that ended more than the
 * wait (and a grace) ago, in the last day, and has no completion row: the check announces
 * what is there. A session claimed for a composition that never announced (the compose
 * job's final failure could not be recorded, or Redis lost the job) gets its compose job
 * again. A job still waiting or running is left to it. Runs in the
 * processes that consume media-frames; several may run at once (one job id per session).
 */
@Injectable()
export class RecordingCheckSweeper extends PeriodicTask {
  private readonly logger = new Logger(RecordingCheckSweeper.name);
  protected readonly intervalMs = SWEEP_EVERY_MS;
  private readonly maxWaitMs: number;

  constructor(
    private readonly sessions: SessionsService,
    private readonly completions: RecordingCompletionsRepository,
    private readonly producer: JobProducer,
    config: ConfigService<AppConfig, true>,
  ) {
    super();
    this.maxWaitMs = config.get('storage', { infer: true }).recordingReadyMaxWaitMs;
  }

  protected tick(): Promise<number> {
    return this.sweep();
  }

  /** One pass over the sessions that ended more than `olderThanMs` ago; returns how many jobs it queued. */
  async sweep(olderThanMs = this.maxWaitMs + GRACE_MS): Promise<number> {
    try {
      const now = Date.now();
      const from = new Date(now - LOOKBACK_MS);
      const to = new Date(now - olderThanMs);
      let queued = 0;
      let after: EndedSession | undefined;
      for (;;) {
        const page = await this.sessions.recordingEndedBetween(from, to, PAGE, after);
        const { withoutCompletion, composePending } = await this.completions.unannounced(page.map((s) => s.id));
        for (const sessionId of withoutCompletion) {
          if (await this.producer.requeue(JobName.RecordingCheck, { sessionId, deadline: true })) queued++;
        }
        // Claimed for a composition whose job is gone or finished without announcing (its
        // final failure could not be recorded): the job runs again; a running one is left be.
        for (const sessionId of composePending) {
          if (await this.producer.requeue(JobName.RecordingCompose, { sessionId, revision: 'auto' })) queued++;
        }
        if (page.length < PAGE) break;
        after = page[page.length - 1];
      }
      if (queued > 0) this.logger.warn(`Queued the recording check or composition of ${queued} ended session(s) that had no recording.ready and no live job`);
      return queued;
    } catch (err) {
      this.logger.warn(`Recording check sweep failed: ${errorMessage(err)}`);
      return 0;
    }
  }
}
