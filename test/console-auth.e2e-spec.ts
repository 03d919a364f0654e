import type { Request } from 'express';
import request from 'supertest';
import { checkAdminAuthThrottled } from '../src/common/auth/admin-auth.middleware';
import { ADMIN_MAX_FAILURES_TOTAL, AdminLoginThrottle } from '../src/common/auth/admin-login-throttle';
import { ConsoleLogin } from '../src/modules/console/console-login.service';
import WebSocket from 'ws';
import { createSession } from './factories/session.factory';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY } from './utils/test-app';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The session console's gate over HTTP (no browser): what answers without a login, the
 * login form, the cookie and its rules on the API and the live API, the headers, assets
 * and logout. The browser flow is test/console.e2e-spec.ts.
 */
describe('Session console: login, cookie rules and headers', () => {
  const ctx = useE2eContext({ hub: { api: true } });
  const http = () => request(ctx.hub.app.getHttpServer());
  let sessionId: string;

  beforeAll(async () => {
    sessionId = (await createSession(ctx.hub, { meetingId: '81234567890' })).id;
  });

  /** Logs in and returns the cookie pair and the CSRF token of the page. */
  async function login(): Promise<{ cookie: string; csrf: string }> {
    const res = await http().post('/console/login').type('form').send({ username: 'admin', password: 'test-admin-password', next: '/console' }).expect(303);
    expect(res.headers.location).toBe('/console');
    const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^rtms_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600$/);
    const cookie = setCookie[0].split(';')[0];
    const page = await http().get('/console').set('Cookie', cookie).expect(200);
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.text)?.[1];
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    return { cookie, csrf: csrf! };
  }

  it('without a login: pages redirect to the form, assets and data answer 401, the login form and its stylesheet are public', async () => {
    for (const path of ['/console', `/console/sessions/${sessionId}`]) {
      const res = await http().get(path).expect(303);
      expect(res.headers.location).toBe(`/console/login?next=${encodeURIComponent(path)}`);
      expect(res.headers['content-security-policy']).toBe(CSP);
    }
    for (const name of ['api.js', 'dom.js', 'live.js', 'sessions-list.js', 'session-page.js', 'nope.js']) {
      const res = await http().get(`/console/assets/${name}`).expect(401);
      expect(res.body).toMatchObject({ error: 'console_login_required' });
    }
    await http().get(`/api/v1/sessions/${sessionId}`).expect(401);
    await http().get(`/api/v1/sessions/${sessionId}`).set('Cookie', 'rtms_console=' + 'A'.repeat(43)).expect(401);
    const form = await http().get('/console/login').expect(200);
    expect(form.headers['content-type']).toMatch(/^text\/html/);
    expect(form.headers['cache-control']).toBe('no-store');
    expect(form.text).toContain('<form method="post" action="/console/login">');
    expect(form.text).not.toMatch(/<script(?![^>]*\ssrc=)/);
    const css = await http().get('/console/assets/console.css').expect(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
  });

  it('refuses wrong credentials (401 form, nothing set), a login posted from another origin, and sends `next` only to console pages', async () => {
    const wrong = await http().post('/console/login').type('form').send({ username: 'admin', password: 'nope-nope-nope' }).expect(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect(wrong.text).toContain('Wrong username or password.');
    expect(wrong.text).not.toContain('nope-nope-nope');
    const crossSite = await http().post('/console/login').set('Origin', 'https://evil.example').type('form').send({ username: 'admin', password: 'test-admin-password' }).expect(403);
    expect(crossSite.headers['set-cookie']).toBeUndefined();
    const offsite = await http().post('/console/login').type('form').send({ username: 'admin', password: 'test-admin-password', next: 'https://evil.example/' }).expect(303);
    expect(offsite.headers.location).toBe('/console');
    const next = await http().post('/console/login').type('form').send({ username: 'admin', password: 'test-admin-password', next: `/console/sessions/${sessionId}` }).expect(303);
    expect(next.headers.location).toBe(`/console/sessions/${sessionId}`);
  });

  it('answers a login form it cannot read with the API\'s error codes, setting nothing', async () => {
    const form = Buffer.from('username=admin&password=test-admin-password');
    const notGzip = await http().post('/console/login').set('Content-Type', 'application/x-www-form-urlencoded').set('Content-Encoding', 'gzip').send(form.toString()).expect(400);
    expect(notGzip.body).toMatchObject({ error: 'malformed_compressed_body', message: 'Request body is not valid gzip data (Content-Encoding: gzip)' });
    expect(notGzip.headers['set-cookie']).toBeUndefined();
    const manyFields = Array.from({ length: 11 }, (_, i) => `f${i}=x`).join('&');
    expect((await http().post('/console/login').set('Content-Type', 'application/x-www-form-urlencoded').send(manyFields).expect(413)).body).toMatchObject({ error: 'payload_too_large' });
    expect((await http().post('/console/login').set('Content-Type', 'application/x-www-form-urlencoded; charset=koi8-r').send('a=b').expect(415)).body).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('the cookie reads the public API as an unscoped admin from the same origin; changes need the CSRF header; other origins are refused', async () => {
    const { cookie, csrf } = await login();
    const host = new URL(ctx.hub.baseUrl).host;
    await http().get(`/api/v1/sessions/${sessionId}`).set('Cookie', cookie).expect(200);
    await http().get('/api/v1/stream-workers').set('Cookie', cookie).set('Sec-Fetch-Site', 'same-origin').expect(200);
    for (const [header, value] of [
      ['Sec-Fetch-Site', 'cross-site'],
      ['Sec-Fetch-Site', 'same-site'],
      ['Origin', 'http://evil.example'],
    ]) {
      const res = await http().get(`/api/v1/sessions/${sessionId}`).set('Cookie', cookie).set(header, value).expect(403);
      expect(res.body.error).toBe('cross_site_request_refused');
    }
    // A form post with the cookie (what a cross-site page could send): refused, nothing changes.
    // With fields it is refused as a body that is not JSON; an empty one reaches the CSRF check.
    const form = await http().post(`/api/v1/sessions/${sessionId}/rtms/stop`).set('Cookie', cookie).set('Origin', ctx.hub.baseUrl).type('form').send({ x: '1' }).expect(415);
    expect(form.body.error).toBe('unsupported_media_type');
    const empty = await http().post(`/api/v1/sessions/${sessionId}/rtms/stop`).set('Cookie', cookie).set('Origin', ctx.hub.baseUrl).type('form').expect(403);
    expect(empty.body.error).toBe('cross_site_request_refused');
    await http().post(`/api/v1/sessions/${sessionId}/hold`).set('Cookie', cookie).set('X-CSRF-Token', 'A'.repeat(43)).send({}).expect(403);
    // With the token, from the same origin: a change goes through, named after the console user.
    const held = await http().post(`/api/v1/sessions/${sessionId}/hold`).set('Cookie', cookie).set('Origin', `http://${host}`).set('X-CSRF-Token', csrf).send({ reason: 'console test' }).expect(200);
    expect(held.body.legal_hold.placed_by).toMatch(/^[0-9a-f]{16}$/);
    expect(cookie).not.toContain(held.body.legal_hold.placed_by);
    await http().delete(`/api/v1/sessions/${sessionId}/hold`).set('Cookie', cookie).set('X-CSRF-Token', csrf).expect(200);
    // An API key, when sent, decides alone (a wrong one is not rescued by the cookie).
    await http().get(`/api/v1/sessions/${sessionId}`).set('Cookie', cookie).set('x-api-key', 'wrong-key').expect(401);
  });

  it('a login lasts while it is used: each authenticated page or API request sends the cookie again with a fresh Max-Age; a refused or unknown one gets none', async () => {
    const { cookie } = await login();
    const renewed = `${cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600`;
    const page = await http().get('/console').set('Cookie', cookie).expect(200);
    expect(page.headers['set-cookie']).toEqual([renewed]);
    const sessionPage = await http().get(`/console/sessions/${sessionId}`).set('Cookie', cookie).expect(200);
    expect(sessionPage.headers['set-cookie']).toEqual([renewed]);
    const api = await http().get(`/api/v1/sessions/${sessionId}`).set('Cookie', cookie).set('Sec-Fetch-Site', 'same-origin').expect(200);
    expect(api.headers['set-cookie']).toEqual([renewed]);
    const crossSite = await http().get(`/api/v1/sessions/${sessionId}`).set('Cookie', cookie).set('Sec-Fetch-Site', 'cross-site').expect(403);
    expect(crossSite.headers['set-cookie']).toBeUndefined();
    const unknown = 'rtms_console=' + 'B'.repeat(43);
    expect((await http().get('/console').set('Cookie', unknown).expect(303)).headers['set-cookie']).toBeUndefined();
    expect((await http().get(`/api/v1/sessions/${sessionId}`).set('Cookie', unknown).expect(401)).headers['set-cookie']).toBeUndefined();
  });

  it('the live API takes the cookie from the hub origin only (SSE and WebSocket upgrade)', async () => {
    const { cookie } = await login();
    const sse = await new Promise<number>((resolve, reject) => {
      const req = http()
        .get(`/api/v1/sessions/${sessionId}/live`)
        .set('Cookie', cookie)
        .set('Origin', 'http://evil.example')
        .end((err, res) => (err && !res ? reject(err) : resolve(res.status)));
      void req;
    });
    expect(sse).toBe(401);
    const wsUrl = `${ctx.hub.baseUrl.replace('http', 'ws')}/api/v1/live`;
    const open = (origin: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(wsUrl, { headers: { Cookie: cookie }, origin });
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
          ws.terminate();
        });
        ws.on('error', () => undefined);
      });
    expect(await open('http://evil.example')).toBe(401);
    expect(await open(ctx.hub.baseUrl)).toBe(101);
  });

  it('serves assets with ETag revalidation and its own headers; logout needs the page token and ends the session', async () => {
    const { cookie, csrf } = await login();
    const js = await http().get('/console/assets/session-page.js').set('Cookie', cookie).expect(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.headers['cache-control']).toBe('no-cache');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    expect(js.headers['referrer-policy']).toBe('same-origin');
    expect(js.headers['content-security-policy']).toBe(CSP);
    await http().get('/console/assets/session-page.js').set('Cookie', cookie).set('If-None-Match', js.headers.etag).expect(304);
    const page = await http().get(`/console/sessions/${sessionId}`).set('Cookie', cookie).expect(200);
    expect(page.text).toContain(`data-session-id="${sessionId}"`);
    await http().get('/console/sessions/not-a-uuid').set('Cookie', cookie).expect(400);

    await http().post('/console/logout').set('Cookie', cookie).type('form').send({ csrf: 'wrong' }).expect(403);
    await http().get(`/api/v1/sessions/${sessionId}`).set('Cookie', cookie).expect(200);
    const out = await http().post('/console/logout').set('Cookie', cookie).type('form').send({ csrf }).expect(303);
    expect(out.headers.location).toBe('/console/login');
    expect(String(out.headers['set-cookie'])).toMatch(/Max-Age=0/);
    await http().get(`/api/v1/sessions/${sessionId}`).set('Cookie', cookie).expect(401);
    await http().get('/console').set('Cookie', cookie).expect(303);
    // The API key still works as before, cookie or not.
    await http().get(`/api/v1/sessions/${sessionId}`).set('x-api-key', API_KEY).expect(200);
  });

  const basic = (password: string) => `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;

  it('judges concurrent guesses one after the other: of 50 wrong passwords sent at once from an address, at most 10 are answered 401, the rest 429', async () => {
    // Straight to the classes (the app's, on this file's Redis prefix), all 50 at once: over
    // HTTP the server reads requests one by one, and a local Redis answers before the next
    // one is read, which would hide a check that is not atomic with the count.
    const attempt = (ip: string) => ({ ip, headers: {} }) as unknown as Request;
    const form = await Promise.all(Array.from({ length: 50 }, (_, i) => ctx.hub.app.get(ConsoleLogin, { strict: false }).check(attempt('192.0.2.50'), 'admin', `burst-${i}`)));
    const reasons = form.map((r) => (r.ok ? 'ok' : r.reason));
    expect(reasons.filter((r) => r === 'invalid')).toHaveLength(10);
    expect(reasons.filter((r) => r !== 'invalid' && r !== 'rate_limited')).toEqual([]);
    const creds = { adminUsername: 'admin', adminPassword: 'test-admin-password' };
    const throttle = ctx.hub.app.get(AdminLoginThrottle, { strict: false });
    const guess = (i: number) => ({ ip: '192.0.2.51', headers: { authorization: basic(`burst-${i}`) } }) as unknown as Request;
    const board = await Promise.all(Array.from({ length: 50 }, (_, i) => checkAdminAuthThrottled(guess(i), creds, throttle)));
    const statuses = board.map((e) => e?.getStatus());
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);

    // Over HTTP too, from another address.
    const http50 = await Promise.all(
      Array.from({ length: 50 }, (_, i) => http().post('/console/login').set('x-forwarded-for', '192.0.2.52').type('form').send({ username: 'admin', password: `burst-${i}` })),
    );
    expect(http50.filter((r) => r.status === 401).length).toBeLessThanOrEqual(10);
    expect(http50.filter((r) => r.status !== 401 && r.status !== 429)).toEqual([]);
    // The right credentials, many requests at once (a browser loading Bull Board sends them with each): never counted, never refused.
    const valid = await Promise.all(Array.from({ length: 30 }, () => http().get('/admin/queues/api/queues').set('x-forwarded-for', '192.0.2.53').set('authorization', basic('test-admin-password'))));
    expect(valid.map((r) => r.status)).toEqual(Array(30).fill(200));
  });

  // Last: it locks this address out of the login form for the rest of the file (the
  // counter lives under this file's own queue prefix).
  it('refuses the login form from an address after 10 failures within the window, even with the right password', async () => {
    for (let i = 0; i < 10; i++) await http().post('/console/login').type('form').send({ username: 'admin', password: `guess-${i}` }).expect(401);
    const locked = await http().post('/console/login').type('form').send({ username: 'admin', password: 'test-admin-password' }).expect(429);
    expect(locked.headers['x-error-code']).toBe('too_many_login_attempts');
    expect(locked.headers['set-cookie']).toBeUndefined();
    expect(locked.text).toContain('Too many failed sign-ins');
  });

  it("Bull Board's Basic auth shares the limits: 10 wrong passwords from an address, then 429 even with the right one", async () => {
    const from = '203.0.113.7';
    // A bare request (a browser's first) is only challenged, not counted.
    for (let i = 0; i < 12; i++) await http().get('/admin/queues/api/queues').set('x-forwarded-for', from).expect(401);
    await http().get('/admin/queues/api/queues').set('x-forwarded-for', from).set('authorization', basic('test-admin-password')).expect(200);
    for (let i = 0; i < 10; i++) await http().get('/admin/queues/api/queues').set('x-forwarded-for', from).set('authorization', basic(`guess-${i}`)).expect(401);
    const locked = await http().get('/admin/queues/api/queues').set('x-forwarded-for', from).set('authorization', basic('test-admin-password')).expect(429);
    expect(locked.body.error).toBe('too_many_requests');
    await http().get('/admin/queues/api/queues').set('x-forwarded-for', '203.0.113.8').set('authorization', basic('test-admin-password')).expect(200);
  });

  // Very last: it locks every address out of the admin logins for the rest of the file.
  it('caps failed admin logins from all addresses together: a guesser changing X-Forwarded-For is stopped too', async () => {
    // Over 20 failures so far (the tests above); each guess now from another address, until
    // the total is reached: within the limit's worth of guesses, whatever was counted before.
    let guesses = 0;
    for (;;) {
      const res = await http().post('/console/login').set('x-forwarded-for', `198.51.100.${guesses}`).type('form').send({ username: 'admin', password: `guess-${guesses}` });
      if (res.status === 429) break;
      expect(res.status).toBe(401);
      expect(++guesses).toBeLessThan(ADMIN_MAX_FAILURES_TOTAL);
    }
    await http().post('/console/login').set('x-forwarded-for', '198.51.100.200').type('form').send({ username: 'admin', password: 'test-admin-password' }).expect(429);
    await http().get('/admin/queues/api/queues').set('x-forwarded-for', '198.51.100.201').set('authorization', basic('test-admin-password')).expect(429);
  });
});
