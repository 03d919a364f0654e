import { pkceChallenge } from './oauth-state.store';
import { isRedirectAllowed } from './redirect-allowlist';
import { retryAfterSeconds, zoomErrorOf } from '../../zoom/http/zoom-http.client';

describe('PKCE S256', () => {
  it('matches RFC 7636 appendix B (rtms-protocol.md §6)', () => {
    expect(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });
});

describe('redirect_after allow-list', () => {
  const list = ['https://app.example.com', 'https://other.example.com/oauth/done'];

  it.each([
    'https://app.example.com/',
    'https://app.example.com/settings/zoom?tab=1',
    'https://other.example.com/oauth/done',
    'https://other.example.com/oauth/done/step2',
  ])('allows %s', (url) => expect(isRedirectAllowed(url, list)).toBe(true));

  it.each([
    'https://evil.example.com/',
    'http://app.example.com/', // scheme is part of the origin
    'https://app.example.com.evil.com/',
    'https://user@app.example.com/',
    'https://other.example.com/oauth/donex',
    'https://other.example.com/',
    'javascript:alert(1)',
    '//app.example.com/x',
    'not a url',
  ])('refuses %s', (url) => expect(isRedirectAllowed(url, list)).toBe(false));

  it('refuses everything with an empty list', () => {
    expect(isRedirectAllowed('https://app.example.com/', [])).toBe(false);
  });
});

describe('Zoom HTTP helpers', () => {
  it('reads Retry-After in seconds or as a date', () => {
    expect(retryAfterSeconds(new Headers({ 'retry-after': '3' }))).toBe(3);
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(retryAfterSeconds(new Headers({ 'retry-after': 'Tue, 01 Jan 2030 00:00:05 GMT' }), now)).toBe(5);
    expect(retryAfterSeconds(new Headers())).toBeUndefined();
    expect(retryAfterSeconds(new Headers({ 'retry-after': 'soon' }))).toBeUndefined();
  });

  it("extracts Zoom's REST and OAuth error shapes", () => {
    expect(zoomErrorOf({ code: 2308, message: 'Not host' })).toEqual({ code: 2308, message: 'Not host', error: undefined });
    expect(zoomErrorOf({ reason: 'Invalid Token!', error: 'invalid_grant', code: 4735 })).toEqual({ code: 4735, message: 'Invalid Token!', error: 'invalid_grant' });
    expect(zoomErrorOf(undefined)).toEqual({ message: 'no error body' });
    expect(zoomErrorOf({ message: 'x'.repeat(1000) }).message.length).toBe(300);
  });
});
