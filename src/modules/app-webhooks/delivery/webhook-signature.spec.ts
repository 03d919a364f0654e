import { createHmac } from 'node:crypto';
import { newSigningSecret, signatureHeader } from './webhook-signature';

describe('webhook signatures', () => {
  it('makes whsec_ secrets of 32 random bytes', () => {
    const a = newSigningSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(newSigningSecret()).not.toBe(a);
  });

  it('signs id.timestamp.body with each secret, space-separated', () => {
    const [s1, s2] = [newSigningSecret(), newSigningSecret()];
    const header = signatureHeader([s1, s2], 'msg_1', 1700000000, '{"a":1}');
    const expected = (s: string) => 'v1,' + createHmac('sha256', Buffer.from(s.slice(6), 'base64')).update('msg_1.1700000000.{"a":1}').digest('base64');
    expect(header).toBe(`${expected(s1)} ${expected(s2)}`);
  });
});
