/**
 * Object keys API input may not hold, at any depth: `__proto__`, `constructor`,
 * `prototype` and the other names of Object.prototype's members (`toString`, `valueOf`,
 * `hasOwnProperty`…). JSON.parse makes them plain own properties, but ValidationPipe
 * deletes the first three (prototype-pollution guard) and class-transformer skips the rest,
 * so `metadata: {"constructor": 1}` was stored without that key and answered 201.
 * Refusing them says so instead; nothing downstream ever sees them.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'toLocaleString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
]);

const RESERVED_AS_JSON = [...RESERVED_KEYS].map((k) => Buffer.from(`"${k}"`));

/**
 * Whether raw JSON can hold a reserved key: one of the names in quotes, or any `\u`
 * escape (a key can be spelled with escapes). The common body has neither, and its parsed
 * value then need not be walked (a walk of a large body costs tens of milliseconds).
 */
export function mayHoldReservedKey(raw: Buffer): boolean {
  return raw.includes('\\u') || RESERVED_AS_JSON.some((name) => raw.includes(name));
}

export interface ReservedKeyHit {
  key: string;
  /** Where it is: `metadata.team.constructor`, `items[2].__proto__`. */
  path: string;
}

/** The first reserved key in a parsed JSON value (own keys only, depth first), or null. */
export function findReservedKey(value: unknown, path = ''): ReservedKeyHit | null {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findReservedKey(value[i], `${path}[${i}]`);
      if (hit) return hit;
    }
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  // Object.keys lists an own `__proto__` as JSON.parse and querystring create it; nothing here assigns by key.
  for (const key of Object.keys(value)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (RESERVED_KEYS.has(key)) return { key, path: at };
    const hit = findReservedKey((value as Record<string, unknown>)[key], at);
    if (hit) return hit;
  }
  return null;
}
