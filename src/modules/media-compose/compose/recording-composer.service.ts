import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../../config/app.config';
import { ArtifactView, RecordingMediaService, RecordingReadyService, recordingEnded } from '../../media-ingest';
import { EventSource, SessionEntity, SessionEventsService, SessionNotFoundError, SessionsService } from '../../sessions';
import { COMPOSE_ENGINE, PARTICIPANT_AUDIO_ENCODER } from '../engine/compose-engine.token';
import type { ParticipantAudioEncoder, ParticipantAudioResult } from '../engine/ffmpeg-compose-engine';
import type { ComposeEngine, ComposeResult } from '../engine/compose-types';
import { RecordingCompositionsRepository } from '../recording-compositions.repository';
import { classifyComposeError, ComposeFailure, engineFailure, storageFailure } from './compose-errors';
import { ComposeMetrics } from './compose-metrics';
import { ComposeWorkDirs } from './compose-work-dirs';
import { ComposePlan, engineInput, PLAN_EVENT_TYPES, planComposition } from './compose-plan';
import { cutWav } from './wav-runs';

/** What became of one participant's audio file (recording.composed). */
export type ParticipantFileOutcome = { user_id: string; artifact_id: string } | { user_id: string; error: string };

export type ComposeOutcome =
  | { status: 'composed'; artifactId: string; durationMs: number; bytes: number; announced: boolean }
  | { status: 'failed'; code: string; announced: boolean }
  | { status: 'skipped'; reason: 'no_session' };

/** What the session timeline and metrics call the revision (auto = the capture-complete job). */
const revisionLabel = (r: 'auto' | number): string => (r === 'auto' ? 'auto' : `r${r}`);

/**
 * The `recording.compose` job (docs/recordings.md): a session's H.264 segments and WAV
 * audio, downloaded into a private temporary folder, composed by the engine into
 * recording.mp4, stored under the session's deterministic recording key (composing again
 * replaces the object and its row), then announced in recording.ready when the
 * capture-complete check left the announcement to this job.
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
    @Inject(COMPOSE_ENGINE) private readonly engine: ComposeEngine,
    @Inject(PARTICIPANT_AUDIO_ENCODER) private readonly participantEncoder: ParticipantAudioEncoder,
    config: ConfigService<AppConfig, true>,
  ) {
    this.settings = config.get('recordings', { infer: true });
  }

  /**
   * One attempt. A retryable failure (storage unavailable, Postgres) is thrown for BullMQ
   * to retry; a final one is recorded and announced here and the job completes.
   */
  async run(sessionId: string, revision: 'auto' | number, signal?: AbortSignal): Promise<ComposeOutcome> {
    let session: SessionEntity;
    try {
      session = await this.sessions.get(sessionId);
    } catch (err) {
      if (err instanceof SessionNotFoundError) return { status: 'skipped', reason: 'no_session' };
      throw err;
    }
    const started = Date.now();
    try {
      if (!recordingEnded(session)) throw new ComposeFailure('internal_error', `session ${sessionId} has not ended (${session.status})`, false);
      await this.compositions.setState(sessionId, 'running');
      const { recording, result, plan, participantFiles } = await this.compose(session, signal);
      await this.compositions.setState(sessionId, 'done', { error: null, artifactId: recording.id });
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
      const failure = classifyComposeError(err);
      if (failure.retryable) throw failure;
      return this.fail(sessionId, revision, failure);
    }
  }

  /** The job's last attempt failed with a retryable error: record and announce it as final. */
  async failFinally(sessionId: string, revision: 'auto' | number, err: unknown): Promise<ComposeOutcome> {
    return this.fail(sessionId, revision, classifyComposeError(err));
  }

  private async fail(sessionId: string, revision: 'auto' | number, failure: ComposeFailure): Promise<ComposeOutcome> {
    const error = { code: failure.code, message: failure.message.slice(0, 500) };
    this.logger.error(`Session ${sessionId}: recording not composed (${error.code}): ${error.message}`);
    this.metrics.failed(failure.code);
    await this.compositions.setState(sessionId, 'failed', { error });
    await this.sessionEvents.recordEvent(sessionId, { source: EventSource.Worker, eventType: 'recording.compose_failed', payload: { revision: revisionLabel(revision), ...error } });
    const announced = await this.ready.announceComposed(sessionId, { recording: null, recordingError: error });
    return { status: 'failed', code: failure.code, announced };
  }

  private async compose(session: SessionEntity, signal?: AbortSignal): Promise<{ recording: ArtifactView; result: ComposeResult; plan: ComposePlan; participantFiles: ParticipantFileOutcome[] }> {
    const sources = await this.media.sources(session.id);
    const events = await this.sessionEvents.eventsOfTypes(session.id, PLAN_EVENT_TYPES);
    const participantAudio = (session.capturePolicy.recording as { participant_audio?: unknown } | undefined)?.participant_audio === 'opus';
    const plan = planComposition({ startedAt: session.startedAt, endedAt: session.endedAt, video: sources.video, audio: sources.audio, events, participantAudio });
    if (plan.video.length === 0 && plan.audio.length === 0) {
      throw new ComposeFailure('nothing_to_compose', `session ${session.id} has no H.264 video and no audio to compose${plan.skipped.length ? ` (${plan.skipped.length} malformed source(s) left out)` : ''}`, false);
    }
    // A private folder per attempt: file names are ours (v-00000.h264, a-00000-0.wav), never remote data.
    // Its heartbeat keeps other workers' sweeps off it while it runs (compose-work-dirs.ts).
    const workDir = await this.workDirs.create();
    const dir = workDir.path;
    try {
      await this.download(plan, dir);
      const out = path.join(dir, 'recording.mp4');
      const input = engineInput(plan, dir, { width: this.settings.width, height: this.settings.height, fps: this.settings.fps }, path.join);
      let result: ComposeResult;
      try {
        result = await this.engine.compose(input, out, signal);
      } catch (err) {
        throw engineFailure(err);
      }
      const first = [...plan.video.map((v) => v.source), ...plan.audio.map((a) => a.source)][0];
      let recording: ArtifactView;
      try {
        recording = await this.media.save(
          {
            sessionId: session.id,
            rtmsStreamId: first.rtmsStreamId,
            kind: 'recording',
            userId: '0',
            userName: null,
            contentType: 'video/mp4',
            capturedAt: new Date(plan.startTs),
            durationMs: result.durationMs,
            meta: {
              codecs: { video: result.video.codec, audio: result.audio.codec },
              width: result.video.width,
              height: result.video.height,
              fps: result.video.fps,
              audio: { sample_rate: result.audio.sampleRate, channels: result.audio.channels, source: plan.audioSource },
              window: { start_ts: plan.startTs, end_ts: plan.endTs },
              gaps: result.gaps.map((g) => ({ from_ts: g.fromTs, to_ts: g.toTs, reason: g.reason })),
              sources: { video_segments: plan.video.length, audio_segments: plan.audio.length, skipped: plan.skipped },
              keyframe_waits: plan.keyframeWaits,
            },
          },
          'mp4',
          out,
        );
      } catch (err) {
        throw storageFailure(err);
      }
      const participantFiles = await this.participantFiles(session, plan, dir, signal);
      return { recording, result, plan, participantFiles };
    } finally {
      await workDir.release();
    }
  }

  /**
   * One compressed file per participant's own audio (capture_policy.recording.participant_audio).
   * A participant whose file fails is reported (recording.composed) without failing the
   * recording, which is already stored.
   */
  private async participantFiles(session: SessionEntity, plan: ComposePlan, dir: string, signal?: AbortSignal): Promise<ParticipantFileOutcome[]> {
    if (plan.participants.length === 0) return [];
    const byUser = new Map<string, ComposePlan['participants']>();
    for (const p of plan.participants) byUser.set(p.source.userId, [...(byUser.get(p.source.userId) ?? []), p]);
    const outcomes: ParticipantFileOutcome[] = [];
    for (const [userId, pieces] of byUser) {
      const out = path.join(dir, `participant-${outcomes.length}.out`);
      try {
        let encoded: ParticipantAudioResult;
        try {
          encoded = await this.participantEncoder.participantAudio(
            { startTs: plan.startTs, endTs: plan.endTs, userId, audio: pieces.flatMap((p) => p.runs.map((r) => ({ path: path.join(dir, r.file), startTs: r.startTs, userId }))) },
            out,
            signal,
          );
        } catch (err) {
          const failure = engineFailure(err);
          if (failure.retryable) throw failure;
          outcomes.push({ user_id: userId, error: failure.message.slice(0, 300) });
          continue;
        }
        try {
          const saved = await this.media.save(
            {
              sessionId: session.id,
              rtmsStreamId: pieces[0].source.rtmsStreamId,
              kind: 'participant_audio',
              userId,
              userName: pieces.find((p) => p.source.userName)?.source.userName ?? null,
              contentType: 'audio/ogg',
              capturedAt: new Date(plan.startTs),
              durationMs: encoded.durationMs,
              meta: {
                codec: encoded.codec,
                window: { start_ts: plan.startTs, end_ts: plan.endTs },
                gaps: encoded.gaps.map((g) => ({ from_ts: g.fromTs, to_ts: g.toTs, reason: g.reason })),
                segments: pieces.length,
              },
            },
            'ogg',
            out,
          );
          outcomes.push({ user_id: userId, artifact_id: saved.id });
        } catch (err) {
          // Storage unavailable fails the attempt (retried; the recording is rewritten under the same key).
          const failure = storageFailure(err);
          if (failure.retryable) throw failure;
          outcomes.push({ user_id: userId, error: failure.message.slice(0, 300) });
        }
      } finally {
        await fs.rm(out, { force: true });
      }
    }
    return outcomes;
  }

  /** Downloads every source into `dir` (one at a time: disk and memory stay bounded), cutting WAVs into their gapless runs. */
  private async download(plan: ComposePlan, dir: string): Promise<void> {
    for (const v of plan.video) {
      await this.media.download(v.source.storageKey, path.join(dir, v.file)).catch((err: unknown) => {
        throw storageFailure(err);
      });
    }
    for (const a of [...plan.audio, ...plan.participants]) {
      const file = path.join(dir, a.file);
      await this.media.download(a.source.storageKey, file).catch((err: unknown) => {
        throw storageFailure(err);
      });
      let pieces: Array<{ file: string; wav: Buffer }>;
      try {
        pieces = cutWav(await fs.readFile(file), a.runs);
      } catch (err) {
        throw new ComposeFailure('source_invalid', `${a.source.storageKey}: ${err instanceof Error ? err.message : String(err)}`, false);
      }
      for (const p of pieces) await fs.writeFile(path.join(dir, p.file), p.wav);
      // Runs with no PCM left (a hole at the very end) are not given to the engine.
      const written = new Set(pieces.map((p) => p.file));
      a.runs = a.runs.filter((r) => written.has(r.file));
      await fs.rm(file, { force: true });
    }
    plan.audio = plan.audio.filter((a) => a.runs.length > 0);
    plan.participants = plan.participants.filter((a) => a.runs.length > 0);
  }
}
