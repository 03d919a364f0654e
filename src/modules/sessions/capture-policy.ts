import { CapturePolicyDto, MediaTypeName } from './dto/capture-policy.dto';
import { InvalidCapturePolicyError, resolveVideoCapture } from './video-capture';

/**
 * `store: false` on a media type: the stream still receives it (and publishes it live)
 * but writes nothing of it to storage or Postgres.
 */
export interface FrameSamplingPolicy {
  skip_first_frames: number;
  interval_ms: number;
  max_frames_per_user: number;
  store: boolean;
  /** What Zoom sends (codec 5/6/7); absent = 'jpeg' (rows written before H.264 capture). */
  format?: VideoFormat;
  /** Frames per second asked of Zoom; absent = derived from interval_ms (JPEG/PNG, ≤ 5). */
  fps?: number;
  /** Absent = 'hd'. */
  resolution?: VideoResolution;
}

export const VIDEO_FORMATS = ['jpeg', 'png', 'h264'] as const;
export type VideoFormat = (typeof VIDEO_FORMATS)[number];
export const VIDEO_RESOLUTIONS = ['sd', 'hd', 'fhd', 'qhd'] as const;
export type VideoResolution = (typeof VIDEO_RESOLUTIONS)[number];

/** A fully resolved capture policy, as stored on the session (snake_case, like the API). */
export interface CapturePolicy {
  media_types: MediaTypeName[];
  include_user_ids: string[];
  exclude_user_ids: string[];
  video: FrameSamplingPolicy;
  deskshare: FrameSamplingPolicy;
  audio: { mode: 'mixed' | 'per_participant'; segment_seconds: number; store: boolean };
  transcript: { enabled: boolean; src_language: number; store: boolean };
  chat: { enabled: boolean; store: boolean };
  /** Retention (absent on sessions created before retention existed: every field follows the config). */
  retention?: SessionRetentionPolicy;
  /** Zoom Rooms dispatched after the media handshake (absent = none). */
  zoom_rooms?: StoredZoomRoomsPolicy;
  /** The composed recording (absent = COMPOSE_RECORDINGS decides, no per-participant files). */
  recording?: RecordingPolicy;
}

/** compose null: COMPOSE_RECORDINGS decides when capture completes. */
export interface RecordingPolicy {
  compose: boolean | null;
  participant_audio: 'none' | 'opus';
}

/**
 * Retention as stored on the session: a number of days (fractions allowed, 0 = forever)
 * only where the session set one; null follows RETENTION_*_DAYS when the sweep runs.
 * `zero`: nothing is stored (every media type's `store` is false).
 */
export interface SessionRetentionPolicy {
  media_days: number | null;
  transcript_days: number | null;
  events_days: number | null;
  zero: boolean;
}

/** zoom_rooms as stored: the passcode only as a TokenCipher envelope (see zoomRoomsPasscodeAad). */
export interface StoredZoomRoomsPolicy {
  room_ids: string[] | null;
  all_available: boolean;
  /** null = the session's meeting_id. */
  meeting_number: string | null;
  passcode_enc: string | null;
  /** null = the configured default. */
  leave_after_seconds: number | null;
}

/** AAD binding a sealed zoom_rooms passcode to its session's capture_policy. */
export const zoomRoomsPasscodeAad = (sessionId: string): string => `sessions:${sessionId}:capture_policy.zoom_rooms.passcode`;

/** The policy as the API shows it: never the passcode (not even sealed). */
export function capturePolicyView(policy: Record<string, unknown>): Record<string, unknown> {
  const rooms = policy.zoom_rooms as StoredZoomRoomsPolicy | undefined;
  if (!rooms || typeof rooms !== 'object') return policy;
  const { passcode_enc, ...rest } = rooms;
  return { ...policy, zoom_rooms: { ...rest, has_passcode: typeof passcode_enc === 'string' } };
}

/**
 * The defaults a video/deskshare request is merged over. A request naming another format
 * than the default's does not inherit the default's frame rate: the rate belongs to the
 * format (an operator's H.264 at 25 fps would make a request for JPEG invalid).
 */
function videoDefaults(defaults: FrameSamplingPolicy, requested: { format?: VideoFormat; fps?: number } | undefined): FrameSamplingPolicy {
  if (requested?.format === undefined || requested.format === (defaults.format ?? 'jpeg')) return defaults;
  const { fps: _formatsRate, ...rest } = defaults;
  return rest;
}

/**
 * The configured defaults (CAPTURE_*), checked as a request would be and with the H.264
 * frame rate filled in; a combination Zoom does not offer fails the boot.
 */
export function resolveDefaultCapturePolicy(defaults: CapturePolicy): CapturePolicy {
  try {
    return { ...defaults, video: resolveVideoCapture('video', defaults.video), deskshare: resolveVideoCapture('deskshare', defaults.deskshare) };
  } catch (err) {
    if (err instanceof InvalidCapturePolicyError) throw new Error(`CAPTURE_VIDEO_FORMAT / CAPTURE_VIDEO_FPS: ${err.message}`);
    throw err;
  }
}

/**
 * A stored video/deskshare rule with the defaults under it, for fields added since it was
 * written. Not format, fps or resolution: their absence has a meaning of its own (JPEG,
 * the rate from interval_ms, HD), which a later change of the defaults must not alter.
 */
export function storedVideoRule(stored: Partial<FrameSamplingPolicy> | undefined, defaults: FrameSamplingPolicy): FrameSamplingPolicy {
  if (!stored) return defaults;
  const { format: _format, fps: _fps, resolution: _resolution, ...base } = defaults;
  return { ...base, ...stored };
}

/**
 * Fills every field a request left out from the defaults. `sealPasscode` encrypts a
 * zoom_rooms passcode (it is never stored in plain text).
 */
export function resolveCapturePolicy(
  requested: CapturePolicyDto | undefined,
  defaults: CapturePolicy,
  sealPasscode?: (plain: string) => string,
): CapturePolicy {
  const r = requested ?? {};
  const rooms = r.zoom_rooms;
  if (rooms?.passcode && !sealPasscode) throw new Error('resolveCapturePolicy needs sealPasscode to store a zoom_rooms passcode');
  const zero = r.retention?.zero === true;
  // Zero retention is `store: false` on every media type, whatever the request said per type.
  const store = zero ? { store: false } : {};
  return {
    media_types: r.media_types ?? [...defaults.media_types],
    include_user_ids: r.include_user_ids ?? [...defaults.include_user_ids],
    exclude_user_ids: r.exclude_user_ids ?? [...defaults.exclude_user_ids],
    video: resolveVideoCapture('video', { ...videoDefaults(defaults.video, r.video), ...stripUnset(r.video), ...store }),
    deskshare: resolveVideoCapture('deskshare', { ...videoDefaults(defaults.deskshare, r.deskshare), ...stripUnset(r.deskshare), ...store }),
    audio: { ...defaults.audio, ...stripUnset(r.audio), ...store },
    transcript: { ...defaults.transcript, ...stripUnset(r.transcript), ...store },
    chat: { ...defaults.chat, ...stripUnset(r.chat), ...store },
    retention: {
      media_days: r.retention?.media_days ?? null,
      transcript_days: r.retention?.transcript_days ?? null,
      events_days: r.retention?.events_days ?? null,
      zero,
    },
    ...(r.recording ? { recording: { compose: r.recording.compose ?? null, participant_audio: r.recording.participant_audio ?? 'none' } } : {}),
    ...(rooms
      ? {
          zoom_rooms: {
            room_ids: rooms.room_ids ?? null,
            all_available: rooms.room_ids === undefined && rooms.all_available === true,
            meeting_number: rooms.meeting_number ?? null,
            passcode_enc: rooms.passcode && sealPasscode ? sealPasscode(rooms.passcode) : null,
            leave_after_seconds: rooms.leave_after_seconds ?? null,
          },
        }
      : {}),
  };
}

/** Zero retention: nothing of the session's media, transcript, chat or participants is stored. */
export function isZeroRetention(policy: Pick<CapturePolicy, 'retention'> | Record<string, unknown>): boolean {
  const retention = (policy as { retention?: unknown }).retention;
  return typeof retention === 'object' && retention !== null && (retention as { zero?: unknown }).zero === true;
}

/**
 * The policy with `store: false` on every media type when it asks for zero retention,
 * whatever its per-type flags say (a stored policy is normally resolved that way already;
 * this keeps a hand-edited or older row from storing anything).
 */
export function enforceZeroRetention(policy: CapturePolicy): CapturePolicy {
  if (!isZeroRetention(policy)) return policy;
  return {
    ...policy,
    video: { ...policy.video, store: false },
    deskshare: { ...policy.deskshare, store: false },
    audio: { ...policy.audio, store: false },
    transcript: { ...policy.transcript, store: false },
    chat: { ...policy.chat, store: false },
  };
}

/**
 * The fields a request set. JSON `null` counts as not set, so the default applies: stored
 * as is, a null was read as a value (`audio.segment_seconds: null` made 1 s segments, a
 * null `transcript.src_language` went into the handshake).
 */
function stripUnset<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}
