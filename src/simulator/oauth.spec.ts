import { createHash, randomBytes } from 'crypto';
import { ZoomSimulator } from './index';

const app = { clientId: 'oauth_app', clientSecret: 'oauth_secret' };
const redirectUri = 'http://127.0.0.1:9/oauth/zoom/callback';
const basic = (id: string, secret: string) => 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');

describe('OAuth server', () => {
  let sim: ZoomSimulator;
  beforeAll(async () => {
    sim = await ZoomSimulator.start({ ...app, redirectUris: [redirectUri], accessTokenTtlSec: 3600 });
  });
  afterAll(() => sim.stop());

  async function authorize(challenge?: string, uri = redirectUri): Promise<Response> {
    const q = new URLSearchParams({ response_type: 'code', client_id: app.clientId, redirect_uri: uri, state: 'st@te 1' });
    if (challenge) {
      q.set('code_challenge', challenge);
      q.set('code_challenge_method', 'S256');
    }
    return fetch(`${sim.oauthBaseUrl}/oauth/authorize?${q}`, { redirect: 'manual' });
  }

  async function token(form: Record<string, string>, auth = basic(app.clientId, app.clientSecret)) {
    const r = await fetch(`${sim.oauthBaseUrl}/oauth/token`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  }

  async function codeFor(verifier: string): Promise<string> {
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const r = await authorize(challenge);
    expect(r.status).toBe(302);
    const loc = new URL(r.headers.get('location') as string);
    expect(loc.origin + loc.pathname).toBe(redirectUri);
    expect(loc.searchParams.get('state')).toBe('st@te 1');
    return loc.searchParams.get('code') as string;
  }

  it('rejects an unknown redirect_uri and an unknown client', async () => {
    expect((await authorize(undefined, 'http://evil.example/cb')).status).toBe(400);
    const r = await fetch(`${sim.oauthBaseUrl}/oauth/authorize?response_type=code&client_id=nope&redirect_uri=${encodeURIComponent(redirectUri)}`, { redirect: 'manual' });
    expect(r.status).toBe(400);
  });

  it('authorization code + PKCE: a wrong verifier fails, the right one works once', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const bad = await token({ grant_type: 'authorization_code', code: await codeFor(verifier), redirect_uri: redirectUri, code_verifier: 'x'.repeat(43) });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_grant');
    const code = await codeFor(verifier);
    const wrongRedirect = await token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri + '/x', code_verifier: verifier });
    expect(wrongRedirect.status).toBe(400);
    const code2 = await codeFor(verifier);
    const ok = await token({ grant_type: 'authorization_code', code: code2, redirect_uri: redirectUri, code_verifier: verifier });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: 'bearer', expires_in: 3600 });
    expect(typeof ok.body.refresh_token).toBe('string');
    const reuse = await token({ grant_type: 'authorization_code', code: code2, redirect_uri: redirectUri, code_verifier: verifier });
    expect(reuse.body).toMatchObject({ reason: 'Invalid authorization code', error: 'invalid_grant' });
    const badClient = await token({ grant_type: 'authorization_code', code: code2, redirect_uri: redirectUri }, basic(app.clientId, 'wrong'));
    expect(badClient.status).toBe(401);
  });

  it('refresh tokens rotate: the old one is dead; counts refreshes; /v2/users/me', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const first = await token({ grant_type: 'authorization_code', code: await codeFor(verifier), redirect_uri: redirectUri, code_verifier: verifier });
    const rt1 = first.body.refresh_token as string;
    const before = sim.stats.tokenRefreshes;
    const second = await token({ grant_type: 'refresh_token', refresh_token: rt1 });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(rt1);
    const again = await token({ grant_type: 'refresh_token', refresh_token: rt1 });
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ error: 'invalid_grant', code: 4735 });
    expect(sim.stats.tokenRefreshes - before).toBe(1);
    expect(sim.stats.refreshesByToken[rt1]).toBe(1);
    const me = await fetch(`${sim.apiBaseUrl}/users/me`, { headers: { authorization: `Bearer ${String(second.body.access_token)}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id: 'sim_user_host_1' });
  });

  it('rejects an auth code or refresh token in the URL query string (rtms-protocol.md §5); S2S account_credentials may use it', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const code = await codeFor(verifier);
    const post = (query: string, form: Record<string, string> = {}, auth = basic(app.clientId, app.clientSecret)) =>
      fetch(`${sim.oauthBaseUrl}/oauth/token?${query}`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    const inQuery = await post(new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }).toString());
    expect(inQuery.status).toBe(400);
    expect(inQuery.body).toMatchObject({ error: 'invalid_request' });
    // Not even with the same values in the body too.
    expect((await post(`code=${code}`, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier })).status).toBe(400);
    const ok = await token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier });
    expect(ok.status).toBe(200); // the code was not burned by the refused requests
    const rt = ok.body.refresh_token as string;
    const refreshInQuery = await post(`grant_type=refresh_token&refresh_token=${encodeURIComponent(rt)}`);
    expect(refreshInQuery.status).toBe(400);
    expect(refreshInQuery.body).toMatchObject({ error: 'invalid_request' });
    expect((await token({ grant_type: 'refresh_token', refresh_token: rt })).status).toBe(200);
    const s2s = sim.options.s2s;
    expect((await post(`grant_type=account_credentials&account_id=${s2s.accountId}`, {}, basic(s2s.clientId, s2s.clientSecret))).status).toBe(200);
  });

  it('revoke kills the grant; expired tokens get 401 code 124', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const t = await token({ grant_type: 'authorization_code', code: await codeFor(verifier), redirect_uri: redirectUri, code_verifier: verifier });
    const at = t.body.access_token as string;
    const rv = await fetch(`${sim.oauthBaseUrl}/oauth/revoke`, { method: 'POST', headers: { authorization: basic(app.clientId, app.clientSecret), 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${at}` });
    expect(rv.status).toBe(200);
    const me = await fetch(`${sim.apiBaseUrl}/users/me`, { headers: { authorization: `Bearer ${at}` } });
    expect(me.status).toBe(401);
    expect(await me.json()).toEqual({ code: 124, message: 'Invalid access token.' });
    expect((await token({ grant_type: 'refresh_token', refresh_token: t.body.refresh_token as string })).status).toBe(400);

    const s2s = await token({ grant_type: 'account_credentials', account_id: sim.options.s2s.accountId }, basic(sim.options.s2s.clientId, sim.options.s2s.clientSecret));
    expect(s2s.status).toBe(200);
    expect(s2s.body.refresh_token).toBeUndefined();
    const wrongAccount = await token({ grant_type: 'account_credentials', account_id: 'other' }, basic(sim.options.s2s.clientId, sim.options.s2s.clientSecret));
    expect(wrongAccount.status).toBe(400);
    sim.expireAccessTokens();
    const expired = await fetch(`${sim.apiBaseUrl}/users/me`, { headers: { authorization: `Bearer ${String(s2s.body.access_token)}` } });
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { code: number }).code).toBe(124);
  });

  it('tokens expire on their own with a short TTL', async () => {
    const short = await ZoomSimulator.start({ accessTokenTtlSec: 1 });
    try {
      const r = await fetch(`${short.oauthBaseUrl}/oauth/token?grant_type=client_credentials`, { method: 'POST', headers: { authorization: basic(short.options.clientId, short.options.clientSecret) } });
      const { access_token, expires_in } = (await r.json()) as { access_token: string; expires_in: number };
      expect(expires_in).toBe(1);
      const call = () => fetch(`${short.apiBaseUrl}/users/me`, { headers: { authorization: `Bearer ${access_token}` } }).then((x) => x.status);
      expect(await call()).toBe(200);
      const deadline = Date.now() + 3000;
      let status = 200;
      while (status === 200 && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 100));
        status = await call();
      }
      expect(status).toBe(401);
    } finally {
      await short.stop();
    }
  });
});
