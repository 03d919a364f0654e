import { CapturePolicyDto, MediaTypeName } from './dto/capture-policy.dto';

/** A fully resolved capture policy, as stored on the session (snake_case, like the API). */
export interface CapturePolicy {
  media_types: MediaTypeName[];
  include_user_ids: string[];
  exclude_user_ids: string[];
  video: { skip_first_frames: number; interval_ms: number; max_frames_per_user: number };
  deskshare: { skip_first_frames: number; interval_ms: number; max_frames_per_user: number };
  audio: { mode: 'mixed' | 'per_participant'; segment_seconds: number };
  transcript: { enabled: boolean; src_language: number };
  chat: { enabled: boolean };
}

/** Fills every field a request left out from the defaults. */
export function resolveCapturePolicy(requested: CapturePolicyDto | undefined, defaults: CapturePolicy): CapturePolicy {
  const r = requested ?? {};
  return {
    media_types: r.media_types ?? [...defaults.media_types],
    include_user_ids: r.include_user_ids ?? [...defaults.include_user_ids],
    exclude_user_ids: r.exclude_user_ids ?? [...defaults.exclude_user_ids],
    video: { ...defaults.video, ...stripUndefined(r.video) },
    deskshare: { ...defaults.deskshare, ...stripUndefined(r.deskshare) },
    audio: { ...defaults.audio, ...stripUndefined(r.audio) },
    transcript: { ...defaults.transcript, ...stripUndefined(r.transcript) },
    chat: { ...defaults.chat, ...stripUndefined(r.chat) },
  };
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
