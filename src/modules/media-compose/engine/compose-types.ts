/**
 * The seam between the media-compose job (which gathers a session's captured media from
 * Postgres and storage into local files) and the compose engine (which turns those files
 * into one playable MP4 with ffmpeg). All times are Zoom timestamps (epoch ms), the clock
 * every captured piece carries, so video and audio line up without trusting arrival times.
 */

/** One stored H.264 segment: Annex-B access units in decode order, the first an IDR with SPS/PPS before it. */
export interface VideoSegmentInput {
  /** Local file holding the segment's Annex-B bytes. */
  path: string;
  userId: string;
  /** Zoom timestamp of every access unit, in order (frameTs.length = access units in the file). */
  frameTs: number[];
}

/** One stored audio piece: a PCM WAV file that starts at `startTs`. */
export interface AudioPieceInput {
  path: string;
  startTs: number;
  /** null = Zoom's mixed stream; a user id = that participant's own audio (mixed down by the engine). */
  userId: string | null;
}

export type ComposeGapReason = 'paused' | 'interrupted' | 'no_video' | 'no_audio';

/** A stretch of the recording with no source material, filled with black video and/or silence. */
export interface ComposeGap {
  fromTs: number;
  toTs: number;
  reason: ComposeGapReason;
}

export interface ComposeInput {
  /** The recording window: it starts at startTs and lasts endTs - startTs, whatever the sources cover. */
  startTs: number;
  endTs: number;
  /** The active-speaker video: segments of any participant, in any order; overlaps resolved by timestamp. */
  video: VideoSegmentInput[];
  audio: AudioPieceInput[];
  /** Stretches the session knows it had no media for (paused, a stream interruption); reported as such. */
  knownGaps: ComposeGap[];
  output: { width: number; height: number; fps: number };
}

export interface ComposeResult {
  durationMs: number;
  bytes: number;
  video: { codec: 'h264'; width: number; height: number; fps: number };
  audio: { codec: 'aac'; sampleRate: number; channels: number };
  /** Every stretch filled with black and/or silence, merged and clipped to the window. */
  gaps: ComposeGap[];
  /** CPU time ffmpeg used (user + system), for the compose metrics and bench:compose. */
  cpuMs: number;
}

/** Builds `outFile` (an MP4: H.264 + AAC, moov atom first) from the input. */
export interface ComposeEngine {
  compose(input: ComposeInput, outFile: string, signal?: AbortSignal): Promise<ComposeResult>;
}
