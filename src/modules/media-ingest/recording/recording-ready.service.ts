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
import { composeRecording } from './compose-decision';
import { RecordingHolds } from './recording-holds';

/** How a check was triggered: `job` (the session ended), `inline` (a piece of media landed), `deadline` (the bounded wait is over). */
export type RecordingCheckMode = 'inline' | 'job' | 'deadline';

/** `compose_queued`: capture is complete and the media-compose job announces it once recording.mp4 is built (or failed). */
export type RecordingCheckResult = 'announced' | 'compose_queued' | 'already_announced' | 'not_ended' | 'waiting' | 'no_session';

/** What the compose job announces with recording.ready: the recording's artifact view, or why there is none. */
export interface ComposedRecording {
  recording: Record<string, unknown> | null;
  recordingError?: { code: string; message: string };
}

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
 * Composition (docs/recordings.md): when the session's recording is composed
 * (composeRecording), the check that finds capture complete claims the row with
 * compose_state 'pending' and queues `recording.compose` instead of announcing; that job
 * announces recording.ready (announceComposed), with the recording or its error, in the
 * transaction that sets the row's event — still exactly once. A check that finds the row
 * pending queues the job again (its id makes that a no-op while it exists), so a crash
 * between the claim and the queueing loses nothing.
 */
@Injectable()
export class RecordingReadyService {
  private readonly logger = new Logger(RecordingReadyService.name);
  private readonly maxWaitMs: number;
  /** COMPOSE_RECORDINGS: whether a session whose policy does not say composes its recording. */
  private readonly composeDefault: boolean;

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
    this.composeDefault = config.get('recordings', { infer: true }).compose;
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
    const state = await this.completions.state(sessionId);
    if (state !== 'none') {
      if (state === 'compose_pending') await this.enqueueCompose(sessionId);
      await this.disarmDeadline(sessionId);
      return state === 'compose_pending' ? 'compose_queued' : 'already_announced';
    }
    const openSegments = await this.audioSegments.countOpenForSession(sessionId);
    if (openSegments > 0 && mode !== 'deadline') {
      // The writer checks again once it has written them; the deadline bounds a host that never does.
      await this.armDeadline(sessionId);
      return 'waiting';
    }
    const holds = mode === 'deadline' ? await this.holds.list(sessionId) : [];
    const pending = holds.length > 0 || openSegments > 0 ? { holds, open_audio_segments: openSegments } : null;
    const outcome = await this.announce(session, pending);
    if (outcome === 'compose') await this.enqueueCompose(sessionId);
    await this.disarmDeadline(sessionId);
    return outcome === 'compose' ? 'compose_queued' : outcome ? 'announced' : 'already_announced';
  }

  /**
   * The compose job's announcement: recording.ready with the counts claimed at capture
   * completion and the recording (or its error). False when it was announced already (a
   * second run of the job) or the session's announcement does not wait for a composition.
   */
  async announceComposed(sessionId: string, composed: ComposedRecording): Promise<boolean> {
    return this.db.transaction(async (em) => {
      const claimed = await this.completions.lockPendingCompose(sessionId, em);
      if (!claimed) return false;
      const { counts, pending } = claimed;
      const recordingError = composed.recordingError ?? null;
      const event = await this.appEvents.record(
        {
          type: AppEventType.RecordingReady,
          sessionId,
          data: {
            counts,
            complete: pending === null,
            artifacts_url: `/api/v1/sessions/${sessionId}/artifacts`,
            transcript_url: `/api/v1/sessions/${sessionId}/transcript`,
            recording: composed.recording,
            ...(recordingError ? { recording_error: recordingError } : {}),
          },
        },
        em,
      );
      await this.completions.setComposed(sessionId, composed.recording ? 'done' : 'failed', event.id, em);
      await this.sessionEvents.recordEvent(
        sessionId,
        { source: EventSource.Worker, eventType: 'recording.ready', payload: { counts, forced: pending !== null, pending, recording_id: composed.recording?.id ?? null, recording_error: recordingError } },
        em,
      );
      this.logger.log(`Session ${sessionId}: recording ready (${composed.recording ? 'composed' : `composition failed: ${recordingError?.code}`})`);
      return true;
    });
  }

  /**
   * Queues the session's compose job: one waiting or running is left alone; one that
   * finished while the completion still waits for it (its final failure could not be
   * recorded) is replaced.
   */
  private async enqueueCompose(sessionId: string): Promise<void> {
    await this.producer.requeue(JobName.RecordingCompose, { sessionId, revision: 'auto' });
  }

  /** true: announced; false: announced before; 'compose': claimed for the compose job, which announces it. */
  private async announce(session: SessionEntity, pending: Record<string, unknown> | null): Promise<boolean | 'compose'> {
    const sessionId = session.id;
    const announced = await this.db.transaction(async (em): Promise<boolean | 'compose'> => {
      const kinds = await this.artifacts.countByKind(sessionId, em);
      const counts = {
        video_frames: kinds.video_frame ?? 0,
        share_frames: kinds.share_frame ?? 0,
        ...(kinds.video_segment || kinds.share_segment ? { video_segments: kinds.video_segment ?? 0, share_segments: kinds.share_segment ?? 0 } : {}),
        audio_segments: kinds.audio_segment ?? 0,
        transcript_segments: await this.transcripts.countForSession(sessionId, em),
        chat_messages: kinds.chat ?? 0,
      };
      if (composeRecording(session.capturePolicy, this.composeDefault, kinds)) {
        if (!(await this.completions.claim({ sessionId, counts, forced: pending !== null, pending, composeState: 'pending' }, em))) return false;
        await this.sessionEvents.recordEvent(sessionId, { source: EventSource.Worker, eventType: 'recording.capture_complete', payload: { counts, forced: pending !== null, pending } }, em);
        return 'compose';
      }
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
    if (announced === 'compose') this.logger.log(`Session ${sessionId}: capture complete, composing the recording`);
    else if (announced && pending) this.logger.warn(`Session ${sessionId}: recording.ready announced after the ${this.maxWaitMs} ms wait with media still pending: ${JSON.stringify(pending)}`);
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
