/**
 * Storage keys of captured media: `{session}/{kind}/{user_name}_{user_id}/{timestamp}.{ext}`.
 * Every part that comes from Zoom (names, ids) is sanitised so it is exactly one path
 * segment: no '/', '\\', NUL or control characters, never '.' or '..', at most 80 chars.
 */
export type ArtifactKind = 'video_frame' | 'share_frame' | 'audio_segment' | 'chat';

export const KIND_FOLDER: Record<ArtifactKind, string> = {
  video_frame: 'video',
  share_frame: 'deskshare',
  audio_segment: 'audio',
  chat: 'chat',
};

const MAX_SEGMENT = 80;

/** One safe path segment from untrusted text (keeps letters of any script, digits, '-', '_', '.'). */
export function sanitizeSegment(raw: string | number | null | undefined, fallback = 'unknown'): string {
  let s = String(raw ?? '')
    .normalize('NFC')
    // Anything that is not a letter, mark, digit, '-', '_' or '.' becomes '_' (this removes
    // '/', '\\', NUL, control characters, spaces and shell-special characters).
    .replace(/[^\p{L}\p{M}\p{N}._-]+/gu, '_')
    .replace(/_+/g, '_');
  // No leading dots (hidden files, '.', '..') and no trailing dots.
  s = s.replace(/^[._]+/, '').replace(/\.+$/, '');
  if ([...s].length > MAX_SEGMENT) s = [...s].slice(0, MAX_SEGMENT).join('');
  return s.length > 0 ? s : fallback;
}

export function userFolder(userName: string | null | undefined, userId: string | number): string {
  const id = sanitizeSegment(userId, '0');
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
  const ext = sanitizeSegment(p.ext, 'bin').replace(/\./g, '');
  return [sanitizeSegment(p.sessionId), KIND_FOLDER[p.kind], userFolder(p.userName, p.userId), `${sanitizeSegment(p.name, '0')}.${ext}`].join('/');
}

/** Prefix holding every object of one session (session ids are uuids, sanitised anyway). */
export function sessionPrefix(sessionId: string): string {
  return `${sanitizeSegment(sessionId)}/`;
}
