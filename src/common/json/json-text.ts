/**
 * Postgres refuses two things JSON allows: the NUL character (`\u0000`, in jsonb and text
 * alike) and lone UTF-16 surrogates (`\ud800` without its pair). Either one fails the
 * whole statement it is in.
 */
const RISKY_ESCAPE = /\\u(0000|d[89a-f][0-9a-f]{2})/i;
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const NUL_OR_LONE_SURROGATE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The replacement: U+FFFD, the Unicode "replacement character", so the change stays visible. */
export const REPLACEMENT_CHAR = '\uFFFD';

/** Whether JSON text (as received, or as JSON.stringify writes it) may hold something Postgres refuses. */
export function mayHoldUnstorableText(json: string): boolean {
  return RISKY_ESCAPE.test(json);
}

/** Whether a parsed value (strings, keys, arrays, objects) holds a NUL or a lone surrogate anywhere. */
export function holdsUnstorableText(value: unknown): boolean {
  return replaceUnstorableText(value).changed;
}

/**
 * A copy of a parsed JSON value whose strings (keys too) have every NUL and lone surrogate
 * replaced by U+FFFD; `changed` says whether anything was replaced.
 */
export function replaceUnstorableText(value: unknown): { value: unknown; changed: boolean } {
  let changed = false;
  const fix = (s: string) => {
    const out = s.replace(NUL_OR_LONE_SURROGATE, REPLACEMENT_CHAR);
    if (out !== s) changed = true;
    return out;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return fix(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[fix(k)] = walk(x);
      return o;
    }
    return v;
  };
  const out = walk(value);
  return { value: out, changed };
}
