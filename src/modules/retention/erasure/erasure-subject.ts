import { createHash } from 'node:crypto';
import type { ErasureSubjectKind } from './entities/erasure.entity';
import { InvalidErasureSubjectError } from './erasure.errors';

/** The person an erasure is about, normalised for matching. */
export interface ErasureSubject {
  kind: ErasureSubjectKind;
  value: string;
}

export const SUBJECT_KINDS: readonly ErasureSubjectKind[] = ['zoom_user_id', 'user_email', 'user_name'];

/** Longest values accepted (the columns they are matched against). */
export const SUBJECT_MAX_LENGTH: Record<ErasureSubjectKind, number> = { zoom_user_id: 64, user_email: 320, user_name: 512 };

// Zoom user ids in RTMS are numbers (sent as JSON numbers or strings); letters, - and _ are
// allowed for other products' ids. "0" is the mixed audio stream, not a person.
const USER_ID = /^[A-Za-z0-9_-]+$/;
// Deliberately loose: one @, something on both sides, no spaces. Zoom decides what an email is.
const EMAIL = /^[^\s@]+@[^\s@]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The subject of `POST /erasures`: exactly one of zoom_user_id, user_email, user_name,
 * a non-empty string within its length limit. Normalised for matching: an email trimmed
 * and lower-cased (emails match case-insensitively), a name in Unicode NFC (names match
 * exactly otherwise: case, spaces and accents count), a user id as given.
 */
export function parseErasureSubject(body: Partial<Record<ErasureSubjectKind, unknown>>): ErasureSubject {
  const given = SUBJECT_KINDS.filter((k) => body[k] !== undefined && body[k] !== null);
  if (given.length !== 1) {
    throw new InvalidErasureSubjectError(
      given.length === 0 ? 'Name the person to erase: one of zoom_user_id, user_email, user_name' : `Give exactly one of zoom_user_id, user_email, user_name (got ${given.join(', ')})`,
    );
  }
  const kind = given[0];
  const raw = body[kind];
  const value = typeof raw === 'number' && kind === 'zoom_user_id' && Number.isSafeInteger(raw) && raw >= 0 ? String(raw) : raw;
  if (typeof value !== 'string') throw new InvalidErasureSubjectError(`${kind} must be a string`);
  const normalised = normaliseSubject(kind, value);
  if (normalised.length === 0) throw new InvalidErasureSubjectError(`${kind} must not be empty`);
  if (normalised.length > SUBJECT_MAX_LENGTH[kind]) throw new InvalidErasureSubjectError(`${kind} must be at most ${SUBJECT_MAX_LENGTH[kind]} characters`);
  if (CONTROL.test(normalised)) throw new InvalidErasureSubjectError(`${kind} must not contain control characters`);
  if (kind === 'zoom_user_id') {
    if (!USER_ID.test(normalised)) throw new InvalidErasureSubjectError('zoom_user_id must be letters, digits, - or _');
    if (normalised === '0') throw new InvalidErasureSubjectError('zoom_user_id 0 is the mixed audio stream, not a participant');
  }
  if (kind === 'user_email' && !EMAIL.test(normalised)) throw new InvalidErasureSubjectError('user_email is not an email address');
  return { kind, value: normalised };
}

export function normaliseSubject(kind: ErasureSubjectKind, value: string): string {
  switch (kind) {
    case 'user_email':
      return value.trim().toLowerCase();
    case 'user_name':
      return value.normalize('NFC');
    case 'zoom_user_id':
      return value.trim();
  }
}

/** What the erasure row keeps of the subject for good: sha256 of `kind:value` (normalised). */
export function subjectHash(subject: ErasureSubject): string {
  return createHash('sha256').update(`${subject.kind}:${subject.value}`, 'utf8').digest('hex');
}

/** AAD of the sealed subject: a sealed value cannot be moved to another erasure row. */
export const subjectAad = (erasureId: string) => `erasure-subject:${erasureId}`;

/**
 * Groups (session, user id) pairs into the user ids to erase per session: a person may
 * have rejoined under another id, or (by name) share one display name across ids.
 */
export function userIdsBySession(pairs: Iterable<{ sessionId: string; userId: string }>): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const p of pairs) {
    let ids = out.get(p.sessionId);
    if (!ids) out.set(p.sessionId, (ids = new Set()));
    ids.add(p.userId);
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, [...v].sort()]));
}
