import { Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../../../common/errors/domain-error';
import { RecordingErrorCode } from '../../../common/errors/error-codes';
import { errorMessage } from '../../../common/errors/error-message';
import { jobIdFor } from '../../../jobs/job-ids';
import { JobName } from '../../../jobs/job-names';
import { JobProducer } from '../../../jobs/job-producer.service';
import { RecordingMediaService, recordingEnded } from '../../media-ingest';
import { SessionsService } from '../../sessions';
import { RecordingCompositionsRepository } from '../recording-compositions.repository';

export class RecordingError extends DomainError {
  constructor(code: RecordingErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

/** Job states in which a queued re-compose has not started: asking again joins it. */
const NOT_STARTED = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);

/** The recording API: a session's composition state, and asking for it to be composed again. */
@Injectable()
export class RecordingRequestsService {
  private readonly logger = new Logger(RecordingRequestsService.name);

  constructor(
    private readonly sessions: SessionsService,
    private readonly compositions: RecordingCompositionsRepository,
    private readonly media: RecordingMediaService,
    private readonly producer: JobProducer,
  ) {}

  async status(sessionId: string, owner?: string | null) {
    await this.sessions.get(sessionId, owner);
    const row = await this.compositions.find(sessionId);
    return {
      session_id: sessionId,
      state: row?.state ?? 'none',
      revision: row?.revision ?? null,
      error: row?.error ?? null,
      updated_at: row?.updatedAt.toISOString() ?? null,
      recording: await this.media.recording(sessionId),
    };
  }

  /**
   * Queues a composition of an ended session. A request while the last one has not
   * started yet is the same job; otherwise a new revision (a new job id) is queued, and
   * its result replaces the recording (same key, same row).
   */
  async request(sessionId: string, owner?: string | null) {
    const session = await this.sessions.get(sessionId, owner);
    if (!recordingEnded(session)) {
      throw new RecordingError(RecordingErrorCode.SessionNotEnded, `Session ${sessionId} is ${session.status}: a recording is composed once the session has ended`, { status: session.status });
    }
    let revision: number | null = null;
    try {
      const current = await this.compositions.find(sessionId);
      if (current && current.revision > 0 && current.state === 'queued') {
        const id = jobIdFor(JobName.RecordingCompose, { sessionId, revision: current.revision });
        const job = id ? await this.producer.queueFor(JobName.RecordingCompose).getJob(id) : undefined;
        const state = job ? await job.getState() : undefined;
        if (job && state && NOT_STARTED.has(state)) return { session_id: sessionId, revision: current.revision, job_id: job.id, state, deduplicated: true };
      }
      revision = await this.compositions.nextRevision(sessionId);
      const job = await this.producer.enqueue(JobName.RecordingCompose, { sessionId, revision });
      return { session_id: sessionId, revision, job_id: job.id, state: await job.getState(), deduplicated: false };
    } catch (err) {
      this.logger.warn(`Re-compose of session ${sessionId} could not be queued: ${errorMessage(err)}`);
      // Its status must not say queued for a job that does not exist.
      if (revision !== null) {
        await this.compositions
          .failUnqueued(sessionId, revision, { code: RecordingErrorCode.QueueUnavailable, message: 'the composition could not be queued' })
          .catch((e: unknown) => this.logger.warn(`Could not mark re-compose ${revision} of session ${sessionId} failed: ${errorMessage(e)}`));
      }
      throw new RecordingError(RecordingErrorCode.QueueUnavailable, 'The composition could not be queued; try again');
    }
  }
}
