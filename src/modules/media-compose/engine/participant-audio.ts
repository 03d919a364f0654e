import type { AudioPieceInput } from './compose-types';

/** One participant's own audio over the recording window, to encode as a compressed file. */
export interface ParticipantAudioInput {
  startTs: number;
  endTs: number;
  /** That participant's pieces only (userId set), placed by startTs; holes are silence. */
  audio: AudioPieceInput[];
}

export interface ParticipantAudioResult {
  durationMs: number;
  /** e.g. 'opus' in an Ogg container. */
  codec: string;
  contentType: string;
  /** File extension of what was written (without the dot). */
  ext: string;
}

/** Encodes one participant's audio into `outFile` (capture_policy.recording.participant_audio). */
export interface ParticipantAudioEncoder {
  encode(input: ParticipantAudioInput, outFile: string, signal?: AbortSignal): Promise<ParticipantAudioResult>;
}

export const PARTICIPANT_AUDIO_ENCODER = Symbol('PARTICIPANT_AUDIO_ENCODER');
