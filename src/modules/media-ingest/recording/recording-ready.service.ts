import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { errorMessage } from '../../../common/errors/error-message';
import { AppConfig } from '../../../config/app.config';
import { jobIdFor } from '../../../jobs/job-ids';
import { JobName } from '../../../jobs/job-names';
import { JobProducer } from '../../../jobs/job-producer.service';
import { AppEventsService, AppEventType } from '../../app-events';
import { EventSource, SessionEntity, SessionEventsService, SessionNotFoundError, SessionsService, SessionStatus } from '../../sessions';
import { AudioSegmentsRepository } from '../repositories/audio-segments.repository';
import { MediaArtifactsRepository } from '../repositories/media-artifacts.repository';
import { RecordingCompletionsRepository } from '../repositories/recording-completions.repository';
import { TranscriptSegmentsRepository } from '../repositories/transcript-segments.repository';
import { RecordingHolds } from './recording-holds';

/** How a check was triggered: `job` (the session ended), `inline` (a piece of media landed), `deadline` (the bounded wait is over). */
export type RecordingCheckMode = 'inline' | 'job' | 'deadline';

export type RecordingCheckResult = 'announced' | 'already_announced' | 'not_ended' | 'waiting' | 'no_session';

/** A session's recording can be complete: it was stopped, or it failed after it had streamed. */
export function recordingEnded(s: Pick<SessionEntity, 'status' | 'startedAt'>): boolean {
  return s.status === SessionStatus.Stopped || (s.status === SessionStatus.Failed && s.startedAt !== null);
}

/**
 * `recording.ready`: every artifact of a session final, announced exactly once.
 *
 * Complete = the session ended (recordingEnded) AND no recording hold is left in Redis
 * (no stream still draining its worker's memory, no media-frames batch enqueued but not
 * saved: RecordingHolds) AND no audio segment of the session is open (every WAV written).
 * Nothing polls: the check runs when one of these becomes true —
 *  - a `recording.check` job, queued by sessions after the transaction that ended the session commits;
 *  - the saver, after a batch whose release left a session with no hold;
 *  - the stream worker, after its stream drained (its hold released);
 *  - the audio segment writer, after it wrote a session's segments.
 * Exactly once: the announcement inserts the session's `recording_completions` row
 * (primary key) in the transaction that records the event; a concurrent check waits on
 * that key and then inserts nothing.
 * Bounded: a check that finds the session ended but something pending queues a
 * `recording.check` deadline job (one per session, RECORDING_READY_MAX_WAIT_MS later),
 * which announces what is there and records what was still pending (a worker that
 * crashed with a hold, a host that never came back with open segments). An announcement
 * removes the deadline job.
 */
@Injectable()
export class RecordingReadyService {
  private readonly logger = new Logger(RecordingReadyService.name);
  private readonly maxWaitMs: number;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly holds: RecordingHolds,
    private readonly sessions: SessionsService,
    private readonly sessionEvents: SessionEventsService,
    private readonly appEvents: AppEventsService,
    private readonly artifacts: MediaArtifactsRepository,
    private readonly transcripts: TranscriptSegmentsRepository,
    private readonly audioSegments: AudioSegmentsRepository,
    private readonly completions: RecordingCompletionsRepository,
    private readonly producer: JobProducer,
    config: ConfigService<AppConfig, true>,
  ) {
    this.maxWaitMs = config.get('storage', { infer: true }).recordingReadyMaxWaitMs;
  }

  /** Checks several sessions after a piece of their media landed; never throws (the media is saved either way). */
  async afterMediaLanded(sessionIds: Iterable<string>): Promise<void> {
    for (const id of new Set(sessionIds)) {
      try {
        await this.check(id, 'inline');
      } catch (err) {
        // The deadline job (or the next piece landing) checks again.
        this.logger.warn(`recording.ready check of session ${id} failed: ${errorMessage(err)}`);
      }
    }
  }

  async check(sessionId: string, mode: RecordingCheckMode): Promise<RecordingCheckResult> {
    if (mode !== 'deadline' && (await this.holds.list(sessionId)).length > 0) {
      // Whoever holds it checks again on release. The job (the session just ended) makes sure the wait is bounded.
      if (mode === 'job') await this.armDeadline(sessionId);
      return 'waiting';
    }
    let session: SessionEntity;
    try {
      session = await this.sessions.get(sessionId);
    } catch (err) {
      if (err instanceof SessionNotFoundError) return 'no_session';
      throw err;
    }
    if (!recordingEnded(session)) return 'not_ended';
    if (await this.completions.exists(sessionId)) {
      await this.disarmDeadline(sessionId);
      return 'already_announced';
    }
    const openSegments = await this.audioSegments.countOpenForSession(sessionId);
    if (openSegments > 0 && mode !== 'deadline') {
      // The writer checks again once it has written them; the deadline bounds a host that never does.
      await this.armDeadline(sessionId);
      return 'waiting';
    }
    const holds = mode === 'deadline' ? await this.holds.list(sessionId) : [];
    const pending = holds.length > 0 || openSegments > 0 ? { holds, open_audio_segments: openSegments } : null;
    const announced = await this.announce(sessionId, pending);
    await this.disarmDeadline(sessionId);
    return announced ? 'announced' : 'already_announced';
  }

  private async announce(sessionId: string, pending: Record<string, unknown> | null): Promise<boolean> {
    const announced = await this.db.transaction(async (em) => {
      const kinds = await this.artifacts.countByKind(sessionId, em);
      const counts = {
        video_frames: kinds.video_frame ?? 0,
        share_frames: kinds.share_frame ?? 0,
        ...(kinds.video_segment || kinds.share_segment ? { video_segments: kinds.video_segment ?? 0, share_segments: kinds.share_segment ?? 0 } : {}),
        audio_segments: kinds.audio_segment ?? 0,
        transcript_segments: await this.transcripts.countForSession(sessionId, em),
        chat_messages: kinds.chat ?? 0,
      };
      if (!(await this.completions.claim({ sessionId, counts, forced: pending !== null, pending }, em))) return false;
      const event = await this.appEvents.record(
        {
          type: AppEventType.RecordingReady,
          sessionId,
          // complete: false when announced at the deadline with media still pending (an operator sees why in the timeline).
          data: { counts, complete: pending === null, artifacts_url: `/api/v1/sessions/${sessionId}/artifacts`, transcript_url: `/api/v1/sessions/${sessionId}/transcript` },
        },
        em,
      );
      await this.completions.setEventId(sessionId, event.id, em);
      await this.sessionEvents.recordEvent(sessionId, { source: EventSource.Worker, eventType: 'recording.ready', payload: { counts, forced: pending !== null, pending } }, em);
      return true;
    });
    if (announced && pending) this.logger.warn(`Session ${sessionId}: recording.ready announced after the ${this.maxWaitMs} ms wait with media still pending: ${JSON.stringify(pending)}`);
    else if (announced) this.logger.log(`Session ${sessionId}: recording ready`);
    return announced;
  }

  /** Queues the session's deadline check unless it exists (deterministic job id). */
  private async armDeadline(sessionId: string): Promise<void> {
    await this.producer.enqueue(JobName.RecordingCheck, { sessionId, deadline: true }, { delay: this.maxWaitMs });
    // An announcement that committed while this was being queued removed no job: remove it now.
    if (await this.completions.exists(sessionId)) await this.disarmDeadline(sessionId);
  }

  /** Removes a waiting deadline job (one that is running finds the session announced and does nothing). */
  private async disarmDeadline(sessionId: string): Promise<void> {
    const id = jobIdFor(JobName.RecordingCheck, { sessionId, deadline: true });
    if (!id) return;
    try {
      const job = await this.producer.queueFor(JobName.RecordingCheck).getJob(id);
      if (job && (await job.isDelayed())) await job.remove();
    } catch (err) {
      this.logger.debug(`Could not remove the recording deadline of ${sessionId}: ${errorMessage(err)}`);
    }
  }
}
