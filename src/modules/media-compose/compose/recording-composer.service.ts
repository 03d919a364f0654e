import * as path from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../../config/app.config';
import { ArtifactView, RecordingMediaService, RecordingReadyService, RecordingSource, recordingEnded } from '../../media-ingest';
import { EventSource, SessionEntity, SessionEventsService, SessionNotFoundError, SessionsService } from '../../sessions';
import { COMPOSE_ENGINE, PARTICIPANT_AUDIO_ENCODER } from '../engine/compose-engine.token';
import type { ParticipantAudioEncoder } from '../engine/ffmpeg-compose-engine';
import type { ComposeEngine, ComposeResult } from '../engine/compose-types';
import { RecordingCompositionsRepository } from '../recording-compositions.repository';
import { classifyComposeError, ComposeFailure, ComposeInterrupted, ComposeSessionGone, engineFailure, sourcesChanged, storageFailure } from './compose-errors';
import { downloadSources, encodeParticipants, ensureFreeSpace, ParticipantFile, participantFile, recordingFile } from './compose-files';
import { ComposeLeases } from './compose-lease';
import { ComposeMetrics } from './compose-metrics';
import { ComposeWorkDirs } from './compose-work-dirs';
import { ComposePlan, engineInput, PLAN_EVENT_TYPES, planComposition } from './compose-plan';

/** What became of one participant's audio file (recording.composed). */
export type ParticipantFileOutcome = { user_id: string; artifact_id: string } | { user_id: string; error: string };

export type ComposeOutcome =
  | { status: 'composed'; artifactId: string; durationMs: number; bytes: number; announced: boolean }
  | { status: 'failed'; code: string; announced: boolean }
  | { status: 'skipped'; reason: 'no_session' }
  /** Another run of the session holds its lease: the job is put back for later (no attempt used). */
  | { status: 'busy' };

/** What the session timeline and metrics call the revision (auto = the capture-complete job). */
const revisionLabel = (r: 'auto' | number): string => (r === 'auto' ? 'auto' : `r${r}`);
/** The revision as recording_compositions numbers it: the automatic composition is 0. */
const revisionNumber = (r: 'auto' | number): number => (r === 'auto' ? 0 : r);

interface Composed {
  recording: ArtifactView;
  result: ComposeResult;
  plan: ComposePlan;
  participantFiles: ParticipantFileOutcome[];
}

/**
 * The `recording.compose` job (docs/recordings.md): a session's H.264 segments and WAV
 * audio, downloaded into a private temporary folder, composed by the engine into
 * recording.mp4, stored under the session's deterministic recording key (composing again
 * replaces the object and its row), then announced in recording.ready when the
 * capture-complete check left the announcement to this job.
 *
 * One run per session at a time (compose-lease.ts). What it stores is written only if
 * every source it was planned from is still there when its rows are written, under the
 * session row's lock (RecordingMediaService.commitComposed): an erasure, a retention purge
 * or a deletion that ran meanwhile wins, and the run composes again from what is left —
 * or, the session gone, ends with its uploads deleted.
 */
@Injectable()
export class RecordingComposer {
  private readonly logger = new Logger(RecordingComposer.name);
  private readonly settings: AppConfig['recordings'];

  constructor(
    private readonly sessions: SessionsService,
    private readonly sessionEvents: SessionEventsService,
    private readonly media: RecordingMediaService,
    private readonly ready: RecordingReadyService,
    private readonly compositions: RecordingCompositionsRepository,
    private readonly metrics: ComposeMetrics,
    private readonly workDirs: ComposeWorkDirs,
    private readonly leases: ComposeLeases,
    @Inject(COMPOSE_ENGINE) private readonly engine: ComposeEngine,
    @Inject(PARTICIPANT_AUDIO_ENCODER) private readonly participantEncoder: ParticipantAudioEncoder,
    config: ConfigService<AppConfig, true>,
  ) {
    this.settings = config.get('recordings', { infer: true });
  }

  /**
   * One attempt. A retryable failure (storage unavailable, Postgres, sources changed) is
   * thrown for BullMQ to retry; a final one is recorded and announced here and the job
   * completes. Stopped by `signal` (SIGTERM) or by losing its lease, it throws
   * ComposeInterrupted and records nothing.
   */
  async run(sessionId: string, revision: 'auto' | number, signal?: AbortSignal): Promise<ComposeOutcome> {
    let session: SessionEntity;
    try {
      session = await this.sessions.get(sessionId);
    } catch (err) {
      if (err instanceof SessionNotFoundError) return this.sessionGone(sessionId);
      throw err;
    }
    const lease = await this.leases.acquire(sessionId);
    if (!lease) return { status: 'busy' };
    const stop = signal ? AbortSignal.any([signal, lease.lost]) : lease.lost;
    const rev = revisionNumber(revision);
    const started = Date.now();
    try {
      if (!recordingEnded(session)) throw new ComposeFailure('internal_error', `session ${sessionId} has not ended (${session.status})`, false);
      await this.compositions.setState(sessionId, rev, 'running');
      const { recording, result, plan, participantFiles } = await this.compose(session, stop);
      await this.compositions.setState(sessionId, rev, 'done', { error: null, artifactId: recording.id });
      await this.sessionEvents.recordEvent(sessionId, {
        source: EventSource.Worker,
        eventType: 'recording.composed',
        payload: {
          revision: revisionLabel(revision),
          artifact_id: recording.id,
          duration_ms: result.durationMs,
          bytes: result.bytes,
          gaps: result.gaps,
          audio_source: plan.audioSource,
          sources: { video_segments: plan.video.length, audio_segments: plan.audio.length, skipped: plan.skipped.length },
          ...(participantFiles.length > 0 ? { participant_audio: participantFiles } : {}),
          compose_ms: Date.now() - started,
          cpu_ms: result.cpuMs,
        },
      });
      this.metrics.composed(result, Date.now() - started);
      const announced = await this.ready.announceComposed(sessionId, { recording: { ...recording } });
      this.logger.log(`Session ${sessionId}: recording composed (${Math.round(result.durationMs / 1000)} s, ${result.bytes} bytes, ${result.gaps.length} gap(s))`);
      return { status: 'composed', artifactId: recording.id, durationMs: result.durationMs, bytes: result.bytes, announced };
    } catch (err) {
      if (err instanceof ComposeSessionGone) return { status: 'skipped', reason: 'no_session' };
      // Stopped from outside: not a failure of this composition, nothing to record.
      if (stop.aborted) throw new ComposeInterrupted(signal?.aborted ? 'shutdown' : 'lease_lost');
      const failure = classifyComposeError(err);
      if (failure.retryable) throw failure;
      return this.fail(sessionId, revision, failure);
    } finally {
      await lease.release();
    }
  }

  /** The job's last attempt failed with a retryable error: record and announce it as final. */
  async failFinally(sessionId: string, revision: 'auto' | number, err: unknown): Promise<ComposeOutcome> {
    return this.fail(sessionId, revision, classifyComposeError(err));
  }

  /**
   * The session is gone: nothing to compose or announce. A run of an earlier attempt may
   * have uploaded after the deletion emptied the session's prefix (it failed before it
   * could write its rows): those objects go now.
   */
  private async sessionGone(sessionId: string): Promise<ComposeOutcome> {
    await this.media.discardComposedOfDeletedSession(sessionId);
    return { status: 'skipped', reason: 'no_session' };
  }

  private async fail(sessionId: string, revision: 'auto' | number, failure: ComposeFailure): Promise<ComposeOutcome> {
    const error = { code: failure.code, message: failure.message.slice(0, 500) };
    this.logger.error(`Session ${sessionId}: recording not composed (${error.code}): ${error.message}`);
    this.metrics.failed(failure.code);
    await this.compositions.setState(sessionId, revisionNumber(revision), 'failed', { error });
    await this.sessionEvents.recordEvent(sessionId, { source: EventSource.Worker, eventType: 'recording.compose_failed', payload: { revision: revisionLabel(revision), ...error } });
    const announced = await this.ready.announceComposed(sessionId, { recording: null, recordingError: error });
    return { status: 'failed', code: failure.code, announced };
  }

  private async compose(session: SessionEntity, signal: AbortSignal): Promise<Composed> {
    const sources = await this.media.sources(session.id);
    // What the plan was made from, as read: commitComposed stores only if all of it is still there.
    const read: RecordingSource[] = [...sources.video, ...sources.audio];
    const events = await this.sessionEvents.eventsOfTypes(session.id, PLAN_EVENT_TYPES);
    const participantAudio = (session.capturePolicy.recording as { participant_audio?: unknown } | undefined)?.participant_audio === 'opus';
    const plan = planComposition({ startedAt: session.startedAt, endedAt: session.endedAt, video: sources.video, audio: sources.audio, events, participantAudio });
    const nothing = () =>
      new ComposeFailure('nothing_to_compose', `session ${session.id} has no H.264 video and no audio to compose${plan.skipped.length ? ` (${plan.skipped.length} malformed source(s) left out)` : ''}`, false);
    if (plan.video.length === 0 && plan.audio.length === 0) throw nothing();
    // A private folder per attempt: file names are ours (v-00000.h264, a-00000-0.wav), never remote data.
    // Its heartbeat keeps other workers' sweeps off it while it runs (compose-work-dirs.ts).
    const workDir = await this.workDirs.create();
    const dir = workDir.path;
    try {
      const planned = new Set([...plan.video, ...plan.audio, ...plan.participants].map((p) => p.source.storageKey));
      await ensureFreeSpace(dir, read.reduce((sum, s) => sum + (planned.has(s.storageKey) ? Number(s.bytes) : 0), 0));
      await downloadSources(this.media, plan, dir, signal, () => this.ensureSources(session.id, read));
      // Every WAV may have turned out empty (no PCM in it): there is nothing to compose after all.
      if (plan.video.length === 0 && plan.audio.length === 0) throw nothing();
      const out = path.join(dir, 'recording.mp4');
      const input = engineInput(plan, dir, { width: this.settings.width, height: this.settings.height, fps: this.settings.fps }, path.join);
      let result: ComposeResult;
      try {
        result = await this.engine.compose(input, out, signal);
      } catch (err) {
        throw engineFailure(err);
      }
      const participants = await encodeParticipants(this.participantEncoder, plan, dir, signal);
      const { recording, participantFiles } = await this.store(session, read, plan, result, out, participants, signal);
      return { recording, result, plan, participantFiles };
    } finally {
      await workDir.release();
    }
  }

  /**
   * Uploads the recording and the participants' files, then writes their rows only if
   * every source read is still there (commitComposed). Checked once before uploading too:
   * an erasure that ran during the engine's minutes is found without uploading anything.
   */
  private async store(
    session: SessionEntity,
    read: RecordingSource[],
    plan: ComposePlan,
    result: ComposeResult,
    out: string,
    participants: ParticipantFile[],
    signal: AbortSignal,
  ): Promise<{ recording: ArtifactView; participantFiles: ParticipantFileOutcome[] }> {
    await this.ensureSources(session.id, read);
    const uploads: Array<Awaited<ReturnType<RecordingMediaService['upload']>>> = [];
    try {
      // The stream id of the sources as read: the download may have dropped every WAV of the plan.
      uploads.push(await this.media.upload(recordingFile(session.id, read[0].rtmsStreamId, plan, result), 'mp4', out, signal));
    } catch (err) {
      throw storageFailure(err);
    }
    const uploadOf = new Map<ParticipantFile, number>();
    for (const p of participants) {
      if (!p.encoded) continue;
      try {
        uploadOf.set(p, uploads.push(await this.media.upload(participantFile(session.id, plan, { ...p, encoded: p.encoded }), 'ogg', p.out, signal)) - 1);
      } catch (err) {
        // Storage unavailable fails the attempt (retried; every file is rewritten under the same key).
        const failure = storageFailure(err);
        if (failure.retryable) throw failure;
        p.error = failure.message.slice(0, 300);
      }
    }
    const committed = await this.media.commitComposed(session.id, read, uploads);
    if (committed.status === 'session_gone') throw new ComposeSessionGone(session.id);
    if (committed.status === 'sources_changed') throw sourcesChanged();
    const participantFiles = participants.map((p): ParticipantFileOutcome => {
      const i = uploadOf.get(p);
      return i === undefined ? { user_id: p.userId, error: p.error ?? 'not stored' } : { user_id: p.userId, artifact_id: committed.artifacts[i].id };
    });
    return { recording: committed.artifacts[0], participantFiles };
  }

  /** Throws unless every source read is still there as it was (the session gone: ComposeSessionGone). */
  private async ensureSources(sessionId: string, read: RecordingSource[]): Promise<void> {
    const state = await this.media.checkSources(sessionId, read);
    if (state === 'session_gone') throw new ComposeSessionGone(sessionId);
    if (state === 'sources_changed') throw sourcesChanged();
  }
}
