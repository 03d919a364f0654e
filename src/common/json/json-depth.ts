/**
 * Request bodies may nest at most this deep. A Zoom event nests 4 levels; the API's own
 * bodies fewer than 10. A body nested thousands deep costs every later step (parsing,
 * re-serialising, Postgres jsonb, which fails with "stack depth limit exceeded").
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether JSON text nests objects/arrays deeper than `max`. One pass over the bytes,
 * before it is parsed (brackets inside strings do not count); it does not validate.
 */
export function jsonDeeperThan(buf: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
