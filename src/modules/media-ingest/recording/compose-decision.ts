import type { ArtifactKind } from '../storage/media-key';

/** The artifact kinds a recording.mp4 is built from: H.264 video segments and WAV audio. */
const COMPOSABLE_KINDS: readonly string[] = ['video_segment', 'audio_segment'];

/**
 * Whether a session's recording is composed into recording.mp4 when its capture completes
 * (docs/recordings.md): only when it captured something to compose (H.264 video or audio),
 * and then as its capture_policy.recording.compose says, else as COMPOSE_RECORDINGS says.
 */
export function composeRecording(capturePolicy: Record<string, unknown>, composeDefault: boolean, kinds: Partial<Record<ArtifactKind | string, number>>): boolean {
  const captured = COMPOSABLE_KINDS.some((k) => (kinds[k] ?? 0) > 0);
  if (!captured) return false;
  const recording = capturePolicy.recording as { compose?: unknown } | undefined;
  const asked = recording && typeof recording === 'object' && typeof recording.compose === 'boolean' ? recording.compose : null;
  return asked ?? composeDefault;
}
