import { MIXED_AUDIO_USER_ID, type RecordingSource } from '../../media-ingest';
import type { ComposeGap, ComposeInput } from '../engine/compose-types';

/** A stored piece as the plan sees it: media-ingest's RecordingSource (its size and digest are not needed here). */
export type PlanSource = Omit<RecordingSource, 'bytes' | 'sha256'>;

/** The timeline events gaps come from (session_events rows of the session). */
export interface PlanEvent {
  eventType: string;
  payload: Record<string, unknown>;
  createdAt: Date;
}

/** The session events the plan reads: pauses, stream interruptions/takeovers, keyframe waits. */
export const PLAN_EVENT_TYPES = ['session.status_changed', 'stream.reconnect', 'video.keyframe_wait'] as const;

export interface PlannedVideo {
  source: PlanSource;
  /** Local file name in the job's work dir (never from remote data). */
  file: string;
  frameTs: number[];
}

/** One WAV as stored, and the gapless runs of PCM in it, each placed at its own Zoom timestamp. */
export interface PlannedAudio {
  source: PlanSource;
  file: string;
  /** null: mixed stream. */
  userId: string | null;
  runs: AudioRun[];
  /** Where its sound ends (Zoom ms): audioEndTs. */
  endTs: number;
}

export interface AudioRun {
  startTs: number;
  /** Offset in the WAV's PCM data (bytes, frame-aligned) and its length (to the end when null). */
  byteStart: number;
  byteLength: number | null;
  file: string;
}

export interface ComposePlan {
  startTs: number;
  endTs: number;
  video: PlannedVideo[];
  audio: PlannedAudio[];
  knownGaps: ComposeGap[];
  /** Sources left out, and why (a malformed row): recorded in the recording's meta. */
  skipped: Array<{ storage_key: string; reason: string }>;
  /** Which audio the recording carries: Zoom's mixed stream, or the participants' own mixed down. */
  audioSource: 'mixed' | 'participants' | 'none';
  keyframeWaits: number;
  /** Each participant's own audio (not the mixed stream), when per-participant files were asked for. */
  participants: PlannedAudio[];
}

export interface PlanRequest {
  startedAt: Date | null;
  endedAt: Date | null;
  video: PlanSource[];
  audio: PlanSource[];
  events: PlanEvent[];
  /** Plan every participant's own audio too (capture_policy.recording.participant_audio). */
  participantAudio?: boolean;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A video segment's access-unit timestamps (meta.first_ts + meta.frame_ts[i]), or why it cannot be used. */
export function videoFrameTs(meta: Record<string, unknown>): number[] | string {
  const first = meta.first_ts;
  const offsets = meta.frame_ts;
  if (!finite(first)) return 'meta.first_ts missing';
  if (!Array.isArray(offsets) || offsets.length === 0) return 'meta.frame_ts missing or empty';
  if (!offsets.every(finite)) return 'meta.frame_ts holds a non-number';
  return offsets.map((o) => first + o);
}

/**
 * The runs of a WAV segment. The audio writer concatenates packets and reports holes
 * (muted users send nothing) in meta.gaps rather than filling them; placing the PCM at
 * its first timestamp alone would shift everything after a hole. Each hole starts a new
 * run at the Zoom timestamp where sound resumes: run i begins at gap[i-1].at_ms +
 * missing_ms, and its PCM starts after what was played before the hole.
 */
export function audioRuns(meta: Record<string, unknown>, firstTs: number, fileBase: string): Array<Omit<AudioRun, 'file'> & { file: string }> | string {
  const format = pcmFormat(meta);
  if (typeof format === 'string') return format;
  const { frameBytes, bytesPerMs } = format;
  const gaps = Array.isArray(meta.gaps) ? (meta.gaps as Array<{ at_ms?: unknown; missing_ms?: unknown }>).filter((g) => finite(g.at_ms) && finite(g.missing_ms) && (g.missing_ms as number) > 0) : [];
  const runs: AudioRun[] = [];
  let runStartTs = firstTs;
  let runStartByte = 0;
  for (const g of gaps) {
    const at = g.at_ms as number;
    // The PCM played before the hole ends where the hole starts (in the run's own time).
    const endByte = runStartByte + Math.round(((at - runStartTs) * bytesPerMs) / frameBytes) * frameBytes;
    if (endByte <= runStartByte) continue;
    runs.push({ startTs: runStartTs, byteStart: runStartByte, byteLength: endByte - runStartByte, file: `${fileBase}-${runs.length}.wav` });
    runStartByte = endByte;
    runStartTs = at + (g.missing_ms as number);
  }
  runs.push({ startTs: runStartTs, byteStart: runStartByte, byteLength: null, file: `${fileBase}-${runs.length}.wav` });
  return runs;
}

/** A WAV row's PCM layout (16-bit samples), or what is wrong with its meta. */
function pcmFormat(meta: Record<string, unknown>): { frameBytes: number; bytesPerMs: number } | string {
  const rate = meta.sample_rate;
  const channels = meta.channels ?? 1;
  if (!finite(rate) || rate <= 0) return 'meta.sample_rate missing';
  if (!finite(channels) || channels <= 0) return 'meta.channels invalid';
  const frameBytes = 2 * channels;
  return { frameBytes, bytesPerMs: (rate * frameBytes) / 1000 };
}

/**
 * Where a WAV's sound ends (Zoom ms). Its duration_ms counts the PCM only — the holes are
 * listed in meta.gaps, not filled — so capturedAt + duration_ms would end early by the
 * holes' length and the window would cut the end of the audio. The end is the last run's
 * start plus the PCM left after what the runs before it played.
 */
export function audioEndTs(meta: Record<string, unknown>, durationMs: number | null, runs: AudioRun[]): number {
  const last = runs[runs.length - 1];
  const format = pcmFormat(meta);
  const playedBeforeMs = typeof format === 'string' ? 0 : last.byteStart / format.bytesPerMs;
  return last.startTs + Math.max(0, (durationMs ?? 0) - playedBeforeMs);
}

/** End of a video segment's media (Zoom ms): its last access unit, or its row's duration if that says later. */
function videoEnd(s: PlanSource, frameTs: number[]): number {
  return Math.max(frameTs[frameTs.length - 1], s.capturedAt.getTime() + (s.durationMs ?? 0));
}

/** The first index of the sorted `values` where `from` holds (it holds from there to the end), or values.length. */
function firstIndex(values: number[], from: (v: number) => boolean): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (from(values[mid])) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Everything the compose job needs before it downloads anything: the recording window,
 * which sources go in (as local file names), and the gaps the session itself knows of.
 *
 * Window: from the session's start to its end (the meeting as the hub saw it), widened to
 * every source so no captured media is cut when Zoom's clock and the hub's differ.
 * Audio: Zoom's mixed stream when it was captured (it is everyone, as heard in the
 * meeting), else every participant's own audio, mixed down by the engine.
 * Known gaps: paused periods (session.status_changed to/from paused); stream
 * interruptions and takeovers (stream.reconnect), from the last media before the event
 * to the first after it; keyframe waits (video.keyframe_wait: the video dropped until
 * an IDR), as no_video. The engine finds every other hole in the media itself.
 */
export function planComposition(req: PlanRequest): ComposePlan {
  const skipped: ComposePlan['skipped'] = [];
  const video: PlannedVideo[] = [];
  for (const s of req.video) {
    const ts = videoFrameTs(s.meta);
    if (typeof ts === 'string') {
      skipped.push({ storage_key: s.storageKey, reason: ts });
      continue;
    }
    video.push({ source: s, file: `v-${String(video.length).padStart(5, '0')}.h264`, frameTs: ts });
  }
  const mixed = req.audio.filter((a) => a.userId === MIXED_AUDIO_USER_ID);
  const planAudio = (sources: PlanSource[], prefix: string, report: boolean): PlannedAudio[] => {
    const out: PlannedAudio[] = [];
    for (const s of sources) {
      const base = `${prefix}-${String(out.length).padStart(5, '0')}`;
      const runs = audioRuns(s.meta, finite(s.meta.first_ts) ? s.meta.first_ts : s.capturedAt.getTime(), base);
      if (typeof runs === 'string') {
        if (report) skipped.push({ storage_key: s.storageKey, reason: runs });
        continue;
      }
      out.push({ source: s, file: `${base}.wav`, userId: s.userId === MIXED_AUDIO_USER_ID ? null : s.userId, runs, endTs: audioEndTs(s.meta, s.durationMs, runs) });
    }
    return out;
  };
  const audio = planAudio(mixed.length > 0 ? mixed : req.audio, 'a', true);
  // Without the mixed stream the recording is made of the participants' own audio: the
  // same pieces, planned (and downloaded) once.
  const participants = !req.participantAudio ? [] : mixed.length > 0 ? planAudio(req.audio.filter((a) => a.userId !== MIXED_AUDIO_USER_ID), 'p', true) : audio;

  // Where every source's media starts and ends, each list sorted: the window is widened to
  // them, and an interruption is bounded by the media around it (binary search: a long
  // meeting has tens of thousands of sources; never Math.min(...sources), whose spread
  // overflows the call stack past ~125,000 of them).
  const spanStarts = [...video.map((v) => v.frameTs[0]), ...audio.map((a) => a.runs[0].startTs)].sort((a, b) => a - b);
  const spanEnds = [...video.map((v) => videoEnd(v.source, v.frameTs)), ...audio.map((a) => a.endTs)].sort((a, b) => a - b);
  const startTs = Math.min(...[req.startedAt?.getTime(), spanStarts[0]].filter(finite));
  const endTs = Math.max(...[req.endedAt?.getTime(), spanEnds.at(-1)].filter(finite));

  const knownGaps: ComposeGap[] = [];
  let pausedAt: number | null = null;
  let keyframeWaits = 0;
  for (const e of req.events) {
    const t = e.createdAt.getTime();
    if (e.eventType === 'session.status_changed') {
      if (e.payload.to === 'paused' && pausedAt === null) pausedAt = t;
      else if (e.payload.from === 'paused' && pausedAt !== null) {
        knownGaps.push({ fromTs: pausedAt, toTs: t, reason: 'paused' });
        pausedAt = null;
      }
    } else if (e.eventType === 'stream.reconnect') {
      // The last media to end at or before the event, the first to start at or after it.
      const endsBefore = firstIndex(spanEnds, (end) => end > t);
      const startsAfter = firstIndex(spanStarts, (start) => start >= t);
      const from = endsBefore > 0 ? spanEnds[endsBefore - 1] : startTs;
      const to = startsAfter < spanStarts.length ? spanStarts[startsAfter] : endTs;
      if (to > from) knownGaps.push({ fromTs: from, toTs: to, reason: 'interrupted' });
    } else if (e.eventType === 'video.keyframe_wait') {
      keyframeWaits += 1;
      const waited = e.payload.waited_ms;
      if (finite(waited) && waited > 0) knownGaps.push({ fromTs: t - waited, toTs: t, reason: 'no_video' });
    }
  }
  if (pausedAt !== null) knownGaps.push({ fromTs: pausedAt, toTs: endTs, reason: 'paused' });

  const clipped = knownGaps
    .map((g) => ({ ...g, fromTs: Math.max(g.fromTs, startTs), toTs: Math.min(g.toTs, endTs) }))
    .filter((g) => g.toTs > g.fromTs)
    .sort((a, b) => a.fromTs - b.fromTs);
  return {
    startTs,
    endTs,
    video,
    audio,
    knownGaps: clipped,
    skipped,
    audioSource: audio.length === 0 ? 'none' : mixed.length > 0 ? 'mixed' : 'participants',
    keyframeWaits,
    participants,
  };
}

/** The engine's input for a plan whose files are in `dir` (absolute paths). */
export function engineInput(plan: ComposePlan, dir: string, output: ComposeInput['output'], join: (...p: string[]) => string): ComposeInput {
  return {
    startTs: plan.startTs,
    endTs: plan.endTs,
    video: plan.video.map((v) => ({ path: join(dir, v.file), userId: v.source.userId, frameTs: v.frameTs })),
    audio: plan.audio.flatMap((a) => a.runs.map((r) => ({ path: join(dir, r.file), startTs: r.startTs, userId: a.userId }))),
    knownGaps: plan.knownGaps,
    output,
  };
}
