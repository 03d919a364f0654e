import { createHash } from 'node:crypto';

/** What a key may do, each role including the ones before it. */
export const API_ROLES = ['read', 'control', 'admin'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** Shorter secrets are refused at boot: a key is the only thing between the internet and the API. */
export const API_KEY_MIN_LENGTH = 32;

/** One API_KEYS entry, parsed. */
export interface ApiKeyEntry {
  /** Names the key in logs and on rows it creates (never the secret). */
  name: string;
  role: ApiRole;
  secret: string;
  /** Owner tag: the key sees and acts only on what keys of this owner created. null = every owner's rows. */
  owner: string | null;
  /** sha256 of the secret, first 16 hex: identifies a key without revealing it. */
  fingerprint: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Names an API key in logs and tickets without revealing it: the first 16 hex of its sha256. */
export function keyFingerprint(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 16);
}

/** True when a key of role `have` may call a route that needs `need`. */
export function roleAllows(have: ApiRole, need: ApiRole): boolean {
  return API_ROLES.indexOf(have) >= API_ROLES.indexOf(need);
}

/**
 * Parses API_KEYS: a comma list of `name:role:secret` or `name:role:secret:owner`
 * entries, or bare `secret`s (the legacy form: an admin key named after its
 * fingerprint). Errors name the entry by position and name, never by its secret.
 */
export function parseApiKeys(raw: string | undefined): ApiKeyEntry[] {
  const entries = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const names = new Map<string, number>();
  const secrets = new Map<string, number>();
  return entries.map((entry, i) => {
    const n = i + 1;
    const parsed = parseEntry(entry, n);
    const label = entry.includes(':') ? `entry ${n} ("${parsed.name}")` : `entry ${n} (a bare secret)`;
    if (parsed.secret.length < API_KEY_MIN_LENGTH) {
      throw new Error(`${label}: the secret must be at least ${API_KEY_MIN_LENGTH} characters (e.g. \`openssl rand -hex 32\`)`);
    }
    const sameName = names.get(parsed.name);
    if (sameName !== undefined) throw new Error(`entries ${sameName} and ${n} are both named "${parsed.name}"`);
    names.set(parsed.name, n);
    const sameSecret = secrets.get(parsed.secret);
    if (sameSecret !== undefined) throw new Error(`entries ${sameSecret} and ${n} have the same secret`);
    secrets.set(parsed.secret, n);
    return parsed;
  });
}

function parseEntry(entry: string, n: number): ApiKeyEntry {
  if (!entry.includes(':')) {
    const fingerprint = keyFingerprint(entry);
    return { name: `key-${fingerprint.slice(0, 8)}`, role: 'admin', secret: entry, owner: null, fingerprint };
  }
  const parts = entry.split(':');
  if (parts.length !== 3 && parts.length !== 4) {
    throw new Error(`entry ${n} must be name:role:secret, name:role:secret:owner or a bare secret (a secret holds no ':' or ',')`);
  }
  const [name, role, secret, owner] = parts;
  if (!NAME.test(name)) throw new Error(`entry ${n}: the name must be letters, digits, _ . - (max 64, starting with a letter or digit)`);
  if (!(API_ROLES as readonly string[]).includes(role)) throw new Error(`entry ${n} ("${name}"): the role must be one of ${API_ROLES.join(', ')}`);
  if (owner !== undefined && !NAME.test(owner)) {
    throw new Error(`entry ${n} ("${name}"): the owner must be letters, digits, _ . - (max 64, starting with a letter or digit)`);
  }
  return { name, role: role as ApiRole, secret, owner: owner ?? null, fingerprint: keyFingerprint(secret) };
}
