import { API_KEY_MIN_LENGTH, keyFingerprint, parseApiKeys, roleAllows } from './api-keys';

const S1 = 'a'.repeat(API_KEY_MIN_LENGTH);
const S2 = 'b'.repeat(40);
const S3 = 'c'.repeat(64);

describe('API_KEYS parsing', () => {
  it('reads name:role:secret and name:role:secret:owner entries', () => {
    expect(parseApiKeys(` dash:read:${S1} , ops:control:${S2}:tenant-a,,root:admin:${S3}`)).toEqual([
      { name: 'dash', role: 'read', secret: S1, owner: null, fingerprint: keyFingerprint(S1) },
      { name: 'ops', role: 'control', secret: S2, owner: 'tenant-a', fingerprint: keyFingerprint(S2) },
      { name: 'root', role: 'admin', secret: S3, owner: null, fingerprint: keyFingerprint(S3) },
    ]);
  });

  it('keeps the legacy bare secret as an admin key named after its fingerprint', () => {
    const [key] = parseApiKeys(S2);
    expect(key).toEqual({ name: `key-${keyFingerprint(S2).slice(0, 8)}`, role: 'admin', secret: S2, owner: null, fingerprint: keyFingerprint(S2) });
    expect(parseApiKeys(`${S1},app:read:${S2}`).map((k) => k.role)).toEqual(['admin', 'read']);
  });

  it('accepts no keys at all (every app route then answers 401)', () => {
    expect(parseApiKeys(undefined)).toEqual([]);
    expect(parseApiKeys(' , ')).toEqual([]);
  });

  it.each([
    [`app:read:${'x'.repeat(31)}`, 'entry 1 ("app"): the secret must be at least 32 characters'],
    ['short-legacy-key', 'entry 1 (a bare secret): the secret must be at least 32 characters'],
    [`app:owner:${S1}`, 'entry 1 ("app"): the role must be one of read, control, admin'],
    [`app:read:${S1},app:admin:${S2}`, 'entries 1 and 2 are both named "app"'],
    [`a:read:${S1},b:admin:${S1}`, 'entries 1 and 2 have the same secret'],
    [`${S1},${S1}`, 'are both named'],
    [`bad name:read:${S1}`, 'entry 1: the name must be letters'],
    [`app:read:${S1}:no/slash`, 'entry 1 ("app"): the owner must be letters'],
    [`app:read:${S1}:o:extra`, 'entry 1 must be name:role:secret, name:role:secret:owner or a bare secret'],
    [`app:read`, 'entry 1 must be name:role:secret'],
  ])('refuses %j', (raw, message) => {
    expect(() => parseApiKeys(raw)).toThrow(message);
  });

  it('never puts a secret in an error message', () => {
    const secret = 'z'.repeat(20);
    for (const raw of [secret, `app:read:${secret}`, `app:nope:${secret}${secret}`, `a:read:${secret}${secret},b:read:${secret}${secret}`]) {
      let message = '';
      try {
        parseApiKeys(raw);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toContain(secret);
    }
  });

  it('orders the roles read < control < admin', () => {
    expect(roleAllows('admin', 'control')).toBe(true);
    expect(roleAllows('control', 'control')).toBe(true);
    expect(roleAllows('control', 'read')).toBe(true);
    expect(roleAllows('read', 'control')).toBe(false);
    expect(roleAllows('control', 'admin')).toBe(false);
  });
});
