import { ByteRange } from '../storage/media-storage';

export type RangeResult = { kind: 'none' } | { kind: 'range'; range: ByteRange } | { kind: 'unsatisfiable' };

/**
 * One `bytes=` range of RFC 9110 against an object of `size` bytes: `a-b`, `a-`, `-n`.
 * Other units are ignored (whole object); several ranges, malformed or out-of-bounds
 * ranges are unsatisfiable (416).
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return { kind: 'none' };
  const spec = m[1].trim();
  const one = /^(\d*)-(\d*)$/.exec(spec);
  if (!one || (one[1] === '' && one[2] === '')) return { kind: 'unsatisfiable' };
  if (one[1] === '') {
    const suffix = Number(one[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(one[1]);
  const end = one[2] === '' ? size - 1 : Math.min(Number(one[2]), size - 1);
  if (start >= size || end < start) return { kind: 'unsatisfiable' };
  return { kind: 'range', range: { start, end } };
}
