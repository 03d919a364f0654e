import { createHash } from 'node:crypto';

/**
 * Storage keys of captured media: `{session}/{kind}/{user_name}_{user_id}/{timestamp}.{ext}`.
 * Every part that comes from Zoom (names, ids) is sanitised so it is exactly one path
 * segment: no '/', '\\', NUL or control characters, never '.' or '..', and short enough
 * in UTF-8 bytes for any file system (see MAX_SEGMENT_BYTES).
 */
export type ArtifactKind = 'video_frame' | 'share_frame' | 'video_segment' | 'share_segment' | 'audio_segment' | 'chat' | 'recording' | 'participant_audio';

export const KIND_FOLDER: Record<ArtifactKind, string> = {
  video_frame: 'video',
  share_frame: 'deskshare',
  // H.264 segments (capture_policy format h264): `{first frame's Zoom timestamp}.h264`.
  video_segment: 'video-segments',
  share_segment: 'deskshare-segments',
  audio_segment: 'audio',
  chat: 'chat',
  // Composed by media-compose (docs/recordings.md).
  recording: 'recording',
  participant_audio: 'participant_audio',
};

/**
 * File systems limit a name to 255 bytes, not characters: 80 four-byte letters were 320
 * (ENAMETOOLONG). A sanitised segment is at most this many UTF-8 bytes, so a user folder
 * (`{name}_{id}`: 120 + 1 + 64) and a file name plus the local driver's temporary suffix
 * (`.{12 hex}.tmp`) stay well under 255.
 */
export const MAX_SEGMENT_BYTES = 120;
/** User ids are numbers in practice; a hostile one must not crowd the name out. */
const MAX_ID_BYTES = 64;
/** `-` and 8 hex digits of the whole sanitised text, appended when it was cut. */
const HASH_SUFFIX_BYTES = 9;

/**
 * Cuts `s` to at most `maxBytes` UTF-8 bytes at a code point boundary (never inside a
 * character or a surrogate pair). A cut text ends with a short hash of the whole, so two
 * long names that differ only after the cut still get different segments.
 */
function capBytes(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  const budget = maxBytes - HASH_SUFFIX_BYTES;
  let out = '';
  let used = 0;
  for (const cp of s) {
    const n = Buffer.byteLength(cp, 'utf8');
    if (used + n > budget) break;
    out += cp;
    used += n;
  }
  const hash = createHash('sha256').update(s).digest('hex').slice(0, 8);
  return `${out.replace(/\.+$/, '')}-${hash}`;
}

/** One safe path segment from untrusted text (keeps letters of any script, digits, '-', '_', '.'). */
export function sanitizeSegment(raw: string | number | null | undefined, fallback = 'unknown', maxBytes = MAX_SEGMENT_BYTES): string {
  let s = String(raw ?? '')
    .normalize('NFC')
    // Anything that is not a letter, mark, digit, '-', '_' or '.' becomes '_' (this removes
    // '/', '\\', NUL, control characters, spaces and shell-special characters).
    .replace(/[^\p{L}\p{M}\p{N}._-]+/gu, '_')
    .replace(/_+/g, '_');
  // No leading dots (hidden files, '.', '..') and no trailing dots.
  s = s.replace(/^[._]+/, '').replace(/\.+$/, '');
  return s.length > 0 ? capBytes(s, maxBytes) : fallback;
}

export function userFolder(userName: string | null | undefined, userId: string | number): string {
  const id = sanitizeSegment(userId, '0', MAX_ID_BYTES);
  const name = sanitizeSegment(userName, id === '0' ? 'mixed' : 'user');
  return `${name}_${id}`;
}

export interface MediaKeyParts {
  sessionId: string;
  kind: ArtifactKind;
  userName?: string | null;
  userId: string | number;
  /** The file name without extension (usually the Zoom timestamp in ms). */
  name: string | number;
  ext: string;
}

export function buildMediaKey(p: MediaKeyParts): string {
  const ext = sanitizeSegment(p.ext, 'bin', 16).replace(/\./g, '');
  return [sanitizeSegment(p.sessionId), KIND_FOLDER[p.kind], userFolder(p.userName, p.userId), `${sanitizeSegment(p.name, '0')}.${ext}`].join('/');
}

/** Prefix holding every object of one session (session ids are uuids, sanitised anyway). */
export function sessionPrefix(sessionId: string): string {
  return `${sanitizeSegment(sessionId)}/`;
}
