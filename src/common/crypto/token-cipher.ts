import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { EncryptionKey } from '../../config/keyring';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A ciphertext could not be opened: unknown key id, wrong key, or tampered data. */
export class TokenDecryptionError extends Error {
  constructor(reason: string) {
    super(`Stored token could not be decrypted: ${reason}`);
    this.name = 'TokenDecryptionError';
  }
}

/**
 * AES-256-GCM for secrets at rest. The envelope is
 * `v1.<keyId>.<iv b64url>.<tag b64url>.<ciphertext b64url>`: a random 96-bit IV per
 * value, the 128-bit auth tag, and the id of the key that sealed it. Key ids may hold
 * `.` (the keyring allows it) but base64url never does, so an envelope is read from
 * both ends: the version first, the last three fields, and the key id is what lies
 * between. The newest key of
 * the ring seals; every key of the ring opens. `aad` binds a value to where it is
 * stored (e.g. `oauth_connections:<id>:access_token`), so a ciphertext copied into
 * another row or column does not decrypt.
 */
export class TokenCipher {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keyring: readonly EncryptionKey[]) {
    if (keyring.length === 0) throw new Error('TokenCipher needs at least one key');
    this.byId = new Map(keyring.map((k) => [k.id, k.key]));
  }

  /** Id of the key new values are sealed with. */
  get currentKeyId(): string {
    return this.keyring[0].id;
  }

  get keyIds(): string[] {
    return this.keyring.map((k) => k.id);
  }

  encrypt(plaintext: string, aad: string): string {
    const { id, key } = this.keyring[0];
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, id, iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join('.');
  }

  decrypt(envelope: string, aad: string): string {
    const parts = splitEnvelope(envelope);
    if (!parts) throw new TokenDecryptionError('unrecognised format');
    const { keyId, ivB64, tagB64, ctB64 } = parts;
    const key = this.byId.get(keyId);
    if (!key) throw new TokenDecryptionError(`key "${keyId}" is not in TOKEN_ENCRYPTION_KEYS`);
    const iv = Buffer.from(ivB64, 'base64url');
    const tag = Buffer.from(tagB64, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new TokenDecryptionError('malformed envelope');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(ctB64, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new TokenDecryptionError('authentication failed (wrong key or tampered value)');
    }
  }

  /** Key id a stored envelope was sealed with (without opening it). */
  static keyIdOf(envelope: string): string | undefined {
    return splitEnvelope(envelope)?.keyId;
  }
}

function splitEnvelope(envelope: string): { keyId: string; ivB64: string; tagB64: string; ctB64: string } | undefined {
  const parts = envelope.split('.');
  if (parts.length < 5 || parts[0] !== VERSION) return undefined;
  const [ivB64, tagB64, ctB64] = parts.slice(-3);
  return { keyId: parts.slice(1, -3).join('.'), ivB64, tagB64, ctB64 };
}
