/** One key of the token-encryption keyring (TOKEN_ENCRYPTION_KEYS). */
export interface EncryptionKey {
  /** Stored next to every ciphertext so the right key decrypts it after a rotation. */
  id: string;
  /** 32 bytes (AES-256). */
  key: Buffer;
}

const KEY_ID = /^[A-Za-z0-9_.-]{1,32}$/;

/**
 * Parses `id:base64key,id:base64key,...` (newest first). Every key must decode to
 * exactly 32 bytes and ids must be unique. Errors name the entry by position and id,
 * never by its key material.
 */
export function parseKeyring(raw: string | undefined): EncryptionKey[] {
  const entries = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) throw new Error('must hold at least one key as id:base64key (32-byte key; e.g. `openssl rand -base64 32`)');
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const b64 = colon > 0 ? entry.slice(colon + 1) : '';
    if (!KEY_ID.test(id)) throw new Error(`entry ${i + 1} must look like id:base64key with an id of letters, digits, _ . - (max 32)`);
    if (seen.has(id)) throw new Error(`key id "${id}" appears more than once`);
    seen.add(id);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64)) throw new Error(`key "${id}" is not base64`);
    const key = Buffer.from(b64.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length !== 32) throw new Error(`key "${id}" must decode to 32 bytes (got ${key.length})`);
    return { id, key };
  });
}
