import { createCipheriv, randomBytes } from 'node:crypto';
import { parseKeyring } from '../../config/keyring';
import { TokenCipher, TokenDecryptionError } from './token-cipher';

const keyA = { id: 'A', key: randomBytes(32) };
const keyB = { id: 'B', key: randomBytes(32) };
const AAD = 'oauth_connections:1:access_token';

describe('TokenCipher (AES-256-GCM envelopes)', () => {
  it('round-trips, with a fresh IV each time and no plaintext in the envelope', () => {
    const cipher = new TokenCipher([keyA]);
    const a = cipher.encrypt('secret-token-value', AAD);
    const b = cipher.encrypt('secret-token-value', AAD);
    expect(a).not.toBe(b);
    expect(a).not.toContain('secret-token-value');
    expect(a.startsWith('v1.A.')).toBe(true);
    expect(TokenCipher.keyIdOf(a)).toBe('A');
    expect(cipher.decrypt(a, AAD)).toBe('secret-token-value');
  });

  it('refuses a tampered ciphertext, tag or IV', () => {
    const cipher = new TokenCipher([keyA]);
    const env = cipher.encrypt('value', AAD).split('.');
    for (const i of [2, 3, 4]) {
      const parts = [...env];
      const buf = Buffer.from(parts[i], 'base64url');
      buf[0] ^= 1;
      parts[i] = buf.toString('base64url');
      expect(() => cipher.decrypt(parts.join('.'), AAD)).toThrow(TokenDecryptionError);
    }
  });

  it('refuses a value moved to another row or column (AAD)', () => {
    const cipher = new TokenCipher([keyA]);
    const env = cipher.encrypt('value', AAD);
    expect(() => cipher.decrypt(env, 'oauth_connections:2:access_token')).toThrow(TokenDecryptionError);
  });

  it('seals with the newest key and opens with any key of the ring', () => {
    const oldRing = new TokenCipher([keyA]);
    const rotated = new TokenCipher([keyB, keyA]);
    const underA = oldRing.encrypt('v', AAD);
    expect(rotated.decrypt(underA, AAD)).toBe('v');
    const underB = rotated.encrypt('v', AAD);
    expect(TokenCipher.keyIdOf(underB)).toBe('B');
    expect(() => oldRing.decrypt(underB, AAD)).toThrow(/key "B" is not in TOKEN_ENCRYPTION_KEYS/);
    expect(new TokenCipher([keyB]).decrypt(underB, AAD)).toBe('v');
  });

  it('round-trips under a key id holding dots (the keyring allows them), and still opens envelopes sealed before', () => {
    const dotted = { id: 'prod.2026.11', key: randomBytes(32) };
    const cipher = new TokenCipher([dotted, keyA]);
    const env = cipher.encrypt('value', AAD);
    expect(env.startsWith('v1.prod.2026.11.')).toBe(true);
    expect(TokenCipher.keyIdOf(env)).toBe('prod.2026.11');
    expect(cipher.decrypt(env, AAD)).toBe('value');
    // An envelope in the format as first shipped (dot-free id, five fields), built by hand.
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', keyA.key, iv, { authTagLength: 16 });
    c.setAAD(Buffer.from(AAD, 'utf8'));
    const ct = Buffer.concat([c.update('legacy', 'utf8'), c.final()]);
    const legacy = ['v1', 'A', iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    expect(TokenCipher.keyIdOf(legacy)).toBe('A');
    expect(cipher.decrypt(legacy, AAD)).toBe('legacy');
    expect(() => cipher.decrypt('v1.A.x.y', AAD)).toThrow(/unrecognised format/);
  });

  it('never puts key material or plaintext in its errors', () => {
    const cipher = new TokenCipher([keyA]);
    try {
      cipher.decrypt(cipher.encrypt('plain-secret', AAD), 'other');
      throw new Error('should have failed');
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).not.toContain('plain-secret');
      expect(msg).not.toContain(keyA.key.toString('base64'));
    }
  });
});

describe('parseKeyring (TOKEN_ENCRYPTION_KEYS)', () => {
  const b64 = randomBytes(32).toString('base64');

  it('parses id:base64key lists, newest first', () => {
    const other = randomBytes(32).toString('base64url');
    const ring = parseKeyring(` k2:${b64} , k1:${other}, prod.2026-11:${b64.replace('A', 'B')}`);
    expect(ring.map((k) => k.id)).toEqual(['k2', 'k1', 'prod.2026-11']);
    expect(ring[0].key.length).toBe(32);
    expect(ring[1].key.toString('base64url')).toBe(other);
  });

  it.each([
    ['', /at least one key/],
    [undefined, /at least one key/],
    ['nocolon', /id:base64key/],
    [`:${b64}`, /id:base64key/],
    [`k1:${randomBytes(16).toString('base64')}`, /32 bytes \(got 16\)/],
    [`k1:${b64},k1:${b64}`, /more than once/],
    ['k1:not base64!', /not base64/],
  ])('refuses %p', (raw, message) => {
    expect(() => parseKeyring(raw)).toThrow(message);
  });

  it('does not echo key material in errors', () => {
    const short = randomBytes(16).toString('base64');
    expect(() => parseKeyring(`k1:${short}`)).toThrow(expect.objectContaining({ message: expect.not.stringContaining(short) }));
  });
});
