/** The person an erasure takes out of a stored payload: their user ids in the session, and their name when erased by name (NFC). */
export interface ErasedPerson {
  userIds: ReadonlySet<string>;
  name: string | null;
}

/**
 * What becomes of a stored event whose payload is about an erased person:
 * - `delete`: it is about them (a `user_id` of theirs, or their name, outside a list of
 *   people: an active speaker, a sharer, a webhook's participant), or about nobody else
 *   once their entries are gone (a join listing only them);
 * - `redact`: a list naming others too (a participant list, the participants of a
 *   `media.lost`) keeps the others' entries, without theirs;
 * - `keep`: nothing of theirs in it after all (the SQL match is wider: a name as a key).
 */
export type PayloadErasure = { action: 'delete' } | { action: 'redact'; payload: Record<string, unknown> } | { action: 'keep' };

export function erasePersonFromPayload(payload: Record<string, unknown>, person: ErasedPerson): PayloadErasure {
  const { value, removed } = stripEntries(payload, person);
  if (mentions(value, person)) return { action: 'delete' };
  if (!removed) return { action: 'keep' };
  if (!hasUserId(value)) return { action: 'delete' };
  return { action: 'redact', payload: value as Record<string, unknown> };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** As Postgres compares it (`#>> '{}'`): numbers and strings by their text. */
function idText(v: unknown): string | null {
  return typeof v === 'number' || typeof v === 'string' ? String(v) : null;
}

function isTheirs(v: unknown, person: ErasedPerson): boolean {
  if (!isObject(v)) return false;
  const id = idText(v.user_id);
  if (id !== null && person.userIds.has(id)) return true;
  return person.name !== null && typeof v.user_name === 'string' && v.user_name.normalize('NFC') === person.name;
}

/** The value without the person's entries in any list, at any depth; `removed`: some were. */
function stripEntries(v: unknown, person: ErasedPerson): { value: unknown; removed: boolean } {
  if (Array.isArray(v)) {
    let removed = false;
    const kept: unknown[] = [];
    for (const item of v) {
      if (isTheirs(item, person)) {
        removed = true;
        continue;
      }
      const inner = stripEntries(item, person);
      removed ||= inner.removed;
      kept.push(inner.value);
    }
    return { value: kept, removed };
  }
  if (isObject(v)) {
    let removed = false;
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      const inner = stripEntries(item, person);
      removed ||= inner.removed;
      out[k] = inner.value;
    }
    return { value: out, removed };
  }
  return { value: v, removed: false };
}

/** A `user_id` of theirs at any depth, or (by name) any string value equal to their name. */
function mentions(v: unknown, person: ErasedPerson): boolean {
  if (typeof v === 'string') return person.name !== null && v.normalize('NFC') === person.name;
  if (Array.isArray(v)) return v.some((item) => mentions(item, person));
  if (!isObject(v)) return false;
  return Object.entries(v).some(([k, item]) => {
    if (k === 'user_id') {
      const id = idText(item);
      if (id !== null && person.userIds.has(id)) return true;
    }
    return mentions(item, person);
  });
}

function hasUserId(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasUserId);
  if (!isObject(v)) return false;
  return Object.entries(v).some(([k, item]) => (k === 'user_id' && item !== null && item !== undefined) || hasUserId(item));
}
