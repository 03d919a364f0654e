import { CSRF_HEADER, consoleCaller, consoleCookieHeader, consoleFingerprint, consoleRequestRefusal, consoleSessionKey, newConsoleSecret, originOfUpgrade, parseCookies, readConsoleCookie } from './console-session';

const TOKEN = newConsoleSecret();
const ORIGIN = 'https://hub.example.com';
const facts = (method: string, headers: Record<string, string>) => ({ method, headers, origin: ORIGIN });

describe('console session cookie rules', () => {
  it('lets same-origin reads through with or without Fetch Metadata and Origin', () => {
    expect(consoleRequestRefusal(facts('GET', {}), TOKEN)).toBeNull();
    expect(consoleRequestRefusal(facts('GET', { 'sec-fetch-site': 'same-origin' }), TOKEN)).toBeNull();
    expect(consoleRequestRefusal(facts('HEAD', { origin: ORIGIN }), TOKEN)).toBeNull();
    expect(consoleRequestRefusal(facts('GET', { origin: 'HTTPS://HUB.EXAMPLE.COM' }), TOKEN)).toBeNull();
  });

  it('refuses any request the browser says comes from elsewhere, reads included', () => {
    for (const site of ['cross-site', 'same-site', 'none']) expect(consoleRequestRefusal(facts('GET', { 'sec-fetch-site': site }), TOKEN)).toMatch(/Sec-Fetch-Site/);
    expect(consoleRequestRefusal(facts('GET', { origin: 'https://evil.example' }), TOKEN)).toMatch(/Origin/);
    expect(consoleRequestRefusal(facts('GET', { origin: 'http://hub.example.com' }), TOKEN)).toMatch(/Origin/);
    expect(consoleRequestRefusal(facts('GET', { origin: 'null' }), TOKEN)).toMatch(/Origin/);
    expect(consoleRequestRefusal({ method: 'GET', headers: { origin: ORIGIN }, origin: null }, TOKEN)).toMatch(/Origin/);
  });

  it('needs the CSRF header, equal to the session token, on every change', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect(consoleRequestRefusal(facts(method, { 'sec-fetch-site': 'same-origin', origin: ORIGIN }), TOKEN)).toMatch(/without x-csrf-token/);
      expect(consoleRequestRefusal(facts(method, { [CSRF_HEADER]: '' }), TOKEN)).toMatch(/without/);
      expect(consoleRequestRefusal(facts(method, { [CSRF_HEADER]: newConsoleSecret() }), TOKEN)).toMatch(/wrong/);
      expect(consoleRequestRefusal(facts(method, { [CSRF_HEADER]: TOKEN, origin: ORIGIN }), TOKEN)).toBeNull();
    }
    // The token does not make another origin acceptable.
    expect(consoleRequestRefusal(facts('POST', { [CSRF_HEADER]: TOKEN, 'sec-fetch-site': 'cross-site' }), TOKEN)).toMatch(/Sec-Fetch-Site/);
  });

  it('reads only well-formed ids from the cookie header, the __Host- one first', () => {
    const id = newConsoleSecret();
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readConsoleCookie({ cookie: `a=b; rtms_console=${id}` })).toBe(id);
    expect(readConsoleCookie({ cookie: `rtms_console=${newConsoleSecret()}; __Host-rtms_console=${id}` })).toBe(id);
    expect(readConsoleCookie({ cookie: 'rtms_console=short' })).toBeNull();
    expect(readConsoleCookie({ cookie: `rtms_console=${id}x` })).toBeNull();
    expect(readConsoleCookie({})).toBeNull();
    expect(parseCookies('x="quoted"; y=1; x=2; =bad; junk')).toEqual(new Map([['x', 'quoted'], ['y', '1']]));
  });

  it('sets HttpOnly SameSite=Strict cookies, __Host- and Secure over HTTPS, and clears them', () => {
    expect(consoleCookieHeader('abc', { secure: true, maxAgeSec: 60 })).toBe('__Host-rtms_console=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure');
    expect(consoleCookieHeader('abc', { secure: false, maxAgeSec: 60 })).toBe('rtms_console=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60');
    expect(consoleCookieHeader('', { secure: false, maxAgeSec: 60 })).toBe('rtms_console=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0');
  });

  it('names the caller an unscoped admin with a fingerprint that is not the id, and stores the session under its hash', () => {
    const id = newConsoleSecret();
    const caller = consoleCaller({ id, username: 'ops' });
    expect(caller).toEqual({ name: 'console:ops', role: 'admin', owner: null, fingerprint: consoleFingerprint(id) });
    expect(caller.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(id).not.toContain(caller.fingerprint);
    expect(consoleSessionKey('rtms', id)).toMatch(/^rtms:console:session:[0-9a-f]{64}$/);
    expect(consoleSessionKey('rtms', id)).not.toContain(id);
  });

  it('works out the origin of a WebSocket upgrade from Host and the forwarded headers', () => {
    expect(originOfUpgrade({ host: 'hub:3000' }, false)).toBe('http://hub:3000');
    expect(originOfUpgrade({ host: 'hub' }, true)).toBe('https://hub');
    expect(originOfUpgrade({ host: 'internal:3000', 'x-forwarded-host': 'hub.example.com', 'x-forwarded-proto': 'https' }, false)).toBe('https://hub.example.com');
    expect(originOfUpgrade({}, false)).toBeNull();
  });
});
