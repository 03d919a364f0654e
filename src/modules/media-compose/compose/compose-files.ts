import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ComposedFile, RecordingMediaService } from '../../media-ingest';
import type { ComposeResult } from '../engine/compose-types';
import type { ParticipantAudioEncoder, ParticipantAudioResult } from '../engine/ffmpeg-compose-engine';
import { ComposeFailure, engineFailure, storageFailure } from './compose-errors';
import type { ComposePlan } from './compose-plan';
import { cutWav } from './wav-runs';

/**
 * The compose job's local files (recording-composer.service.ts): its sources downloaded
 * into the work folder, the participants' audio files encoded there, and what each
 * composed file is stored as.
 */

/** A participant's audio file, encoded (or failed) before anything is stored. */
export interface ParticipantFile {
  userId: string;
  pieces: ComposePlan['participants'];
  out: string;
  encoded?: ParticipantAudioResult;
  error?: string;
}

/**
 * Fails the attempt, retryably, when `dir`'s file system has less room than the sources
 * take (`bytes`): the downloads would fill it and fail anyway, after copying gigabytes;
 * later, or on another worker, there may be room.
 */
export async function ensureFreeSpace(dir: string, bytes: number): Promise<void> {
  const fsStats = await fs.statfs(dir);
  const free = fsStats.bavail * fsStats.bsize;
  if (free < bytes) throw new ComposeFailure('internal_error', `not enough free space in ${dir}: the sources take ${bytes} bytes, ${free} are free`, true);
}

/**
 * Downloads every source into `dir` (one at a time: disk and memory stay bounded),
 * cutting WAVs into their gapless runs; runs (and WAVs) left with no PCM are dropped from
 * the plan. A missing object is handed to `onMissing` first, which throws if it was taken
 * by an erasure, a purge or a deletion rather than lost.
 */
export async function downloadSources(media: RecordingMediaService, plan: ComposePlan, dir: string, signal: AbortSignal, onMissing: () => Promise<void>): Promise<void> {
  const fetch = async (storageKey: string, file: string) => {
    try {
      await media.download(storageKey, file, signal);
    } catch (err) {
      const failure = storageFailure(err);
      if (failure.code === 'source_missing') await onMissing();
      throw failure;
    }
  };
  for (const v of plan.video) await fetch(v.source.storageKey, path.join(dir, v.file));
  // Without the mixed stream, plan.participants holds the very pieces of plan.audio: each is fetched once.
  for (const a of new Set([...plan.audio, ...plan.participants])) {
    const file = path.join(dir, a.file);
    await fetch(a.source.storageKey, file);
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

/**
 * One compressed file per participant's own audio (capture_policy.recording.participant_audio),
 * encoded before anything is stored. A participant whose file fails is reported
 * (recording.composed) without failing the recording; an abort fails the attempt.
 */
export async function encodeParticipants(encoder: ParticipantAudioEncoder, plan: ComposePlan, dir: string, signal: AbortSignal): Promise<ParticipantFile[]> {
  const byUser = new Map<string, ComposePlan['participants']>();
  for (const p of plan.participants) {
    const pieces = byUser.get(p.source.userId);
    if (pieces) pieces.push(p);
    else byUser.set(p.source.userId, [p]);
  }
  const files: ParticipantFile[] = [];
  for (const [userId, pieces] of byUser) {
    const file: ParticipantFile = { userId, pieces, out: path.join(dir, `participant-${files.length}.out`) };
    files.push(file);
    try {
      file.encoded = await encoder.participantAudio(
        { startTs: plan.startTs, endTs: plan.endTs, userId, audio: pieces.flatMap((p) => p.runs.map((r) => ({ path: path.join(dir, r.file), startTs: r.startTs, userId }))) },
        file.out,
        signal,
      );
    } catch (err) {
      const failure = engineFailure(err);
      if (failure.retryable) throw failure;
      file.error = failure.message.slice(0, 300);
    }
  }
  return files;
}

const gapsOf = (gaps: ComposeResult['gaps']) => gaps.map((g) => ({ from_ts: g.fromTs, to_ts: g.toTs, reason: g.reason }));

/** recording.mp4 as stored (docs/recordings.md, "Store"). `rtmsStreamId` is of the sources as read: the plan's may all have been dropped. */
export function recordingFile(sessionId: string, rtmsStreamId: string, plan: ComposePlan, result: ComposeResult): ComposedFile {
  return {
    sessionId,
    rtmsStreamId,
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
      gaps: gapsOf(result.gaps),
      sources: { video_segments: plan.video.length, audio_segments: plan.audio.length, skipped: plan.skipped },
      keyframe_waits: plan.keyframeWaits,
    },
  };
}

/** A participant's audio.ogg as stored. */
export function participantFile(sessionId: string, plan: ComposePlan, p: ParticipantFile & { encoded: ParticipantAudioResult }): ComposedFile {
  return {
    sessionId,
    rtmsStreamId: p.pieces[0].source.rtmsStreamId,
    kind: 'participant_audio',
    userId: p.userId,
    userName: p.pieces.find((x) => x.source.userName)?.source.userName ?? null,
    contentType: 'audio/ogg',
    capturedAt: new Date(plan.startTs),
    durationMs: p.encoded.durationMs,
    meta: { codec: p.encoded.codec, window: { start_ts: plan.startTs, end_ts: plan.endTs }, gaps: gapsOf(p.encoded.gaps), segments: p.pieces.length },
  };
}
