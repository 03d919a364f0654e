import type { CapturePolicy } from './capture-policy';

/**
 * A capture policy for unit tests: every media type, every participant, stored; frames
 * sampled every `frameIntervalMs` (0: every frame, as the filters' tests want; 1000: the
 * hub's shipped default).
 */
export function everythingPolicy(frameIntervalMs = 0): CapturePolicy {
  return {
    media_types: ['audio', 'video', 'deskshare', 'transcript', 'chat'],
    include_user_ids: [],
    exclude_user_ids: [],
    video: { skip_first_frames: 0, interval_ms: frameIntervalMs, max_frames_per_user: 0, store: true },
    deskshare: { skip_first_frames: 0, interval_ms: frameIntervalMs, max_frames_per_user: 0, store: true },
    audio: { mode: 'per_participant', segment_seconds: 10, store: true },
    transcript: { enabled: true, src_language: -1, store: true },
    chat: { enabled: true, store: true },
  };
}
