import { ErasureErrorCode } from '../../../common/errors/error-codes';
import { InvalidErasureSubjectError } from './erasure.errors';
import { normaliseSubject, parseErasureSubject, subjectHash, userIdsBySession } from './erasure-subject';

function refusal(body: Record<string, unknown>): string {
  try {
    parseErasureSubject(body);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidErasureSubjectError);
    expect((err as InvalidErasureSubjectError).code).toBe(ErasureErrorCode.InvalidErasureSubject);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

describe('parseErasureSubject', () => {
  it('takes exactly one of the three fields', () => {
    expect(parseErasureSubject({ zoom_user_id: '16778240' })).toEqual({ kind: 'zoom_user_id', value: '16778240' });
    expect(refusal({})).toMatch(/one of zoom_user_id, user_email, user_name/);
    expect(refusal({ zoom_user_id: '1', user_name: 'Ann' })).toMatch(/exactly one .*got zoom_user_id, user_name/);
    expect(refusal({ zoom_user_id: '1', user_email: 'a@b.c', user_name: 'Ann' })).toMatch(/exactly one/);
  });

  it('treats null as absent', () => {
    expect(parseErasureSubject({ zoom_user_id: null, user_name: 'Ann' })).toEqual({ kind: 'user_name', value: 'Ann' });
  });

  it('accepts a numeric zoom_user_id (RTMS sends numbers) and refuses user 0, the mixed audio stream', () => {
    expect(parseErasureSubject({ zoom_user_id: 16778240 })).toEqual({ kind: 'zoom_user_id', value: '16778240' });
    expect(refusal({ zoom_user_id: '0' })).toMatch(/mixed audio/);
    expect(refusal({ zoom_user_id: 0 })).toMatch(/mixed audio/);
    expect(refusal({ zoom_user_id: -3 })).toMatch(/must be a string/);
    expect(refusal({ zoom_user_id: '12/../3' })).toMatch(/letters, digits/);
  });

  it('refuses wrong types, empty values, control characters and values over the limit', () => {
    expect(refusal({ user_name: 42 })).toMatch(/user_name must be a string/);
    expect(refusal({ user_email: ['a@b.c'] })).toMatch(/must be a string/);
    expect(refusal({ user_name: '' })).toMatch(/must not be empty/);
    expect(refusal({ user_email: '   ' })).toMatch(/must not be empty/);
    expect(refusal({ user_name: 'Ann\u0000Lee' })).toMatch(/control characters/);
    expect(refusal({ zoom_user_id: '1'.repeat(65) })).toMatch(/at most 64/);
    expect(refusal({ user_email: `${'a'.repeat(320)}@b.c` })).toMatch(/at most 320/);
    expect(refusal({ user_name: 'x'.repeat(513) })).toMatch(/at most 512/);
    expect(parseErasureSubject({ user_name: 'x'.repeat(512) }).value).toHaveLength(512);
  });

  it('checks the shape of an email', () => {
    expect(refusal({ user_email: 'not-an-email' })).toMatch(/not an email/);
    expect(refusal({ user_email: 'a b@c.d' })).toMatch(/not an email/);
  });
});

describe('normaliseSubject', () => {
  it('matches emails case-insensitively, trimmed', () => {
    expect(normaliseSubject('user_email', '  Ann.Lee@Example.COM ')).toBe('ann.lee@example.com');
  });

  it('compares names exactly after NFC: a decomposed accent is the same name, case is not', () => {
    const decomposed = 'Jose\u0301';
    const composed = 'Jos\u00e9';
    expect(normaliseSubject('user_name', decomposed)).toBe(composed);
    expect(normaliseSubject('user_name', 'ann')).not.toBe(normaliseSubject('user_name', 'Ann'));
    expect(normaliseSubject('user_name', ' Ann ')).toBe(' Ann ');
  });
});

describe('subjectHash', () => {
  it('is the sha256 of kind and normalised value: same person, same hash; kinds never collide', () => {
    const a = subjectHash(parseErasureSubject({ user_email: 'Ann@Example.com' }));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(subjectHash(parseErasureSubject({ user_email: 'ann@example.com ' }))).toBe(a);
    expect(subjectHash({ kind: 'user_name', value: '42' })).not.toBe(subjectHash({ kind: 'zoom_user_id', value: '42' }));
  });
});

describe('userIdsBySession', () => {
  it('groups (session, user) pairs from several tables without duplicates, in a stable order', () => {
    const out = userIdsBySession([
      { sessionId: 's2', userId: '7' },
      { sessionId: 's1', userId: '9' },
      { sessionId: 's1', userId: '7' },
      { sessionId: 's2', userId: '7' },
    ]);
    expect([...out.entries()]).toEqual([
      ['s1', ['7', '9']],
      ['s2', ['7']],
    ]);
  });
});
