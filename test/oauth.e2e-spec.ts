import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { REDIS_CLIENT } from '../src/common/redis/redis.module';
import { loadAppConfig } from '../src/config/app.config';
import { parseKeyring } from '../src/config/keyring';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { QueueName } from '../src/jobs/queue-names';
import { ConnectionStatus } from '../src/modules/oauth/entities/oauth-connection.entity';
import { OAuthConnectionsService } from '../src/modules/oauth/oauth-connections.service';
import { resealConnectionTokens } from '../src/modules/oauth';
import { tokenAad } from '../src/modules/oauth/token-aad';
import { TokenCipher } from '../src/common/crypto/token-cipher';
import { ReauthorizationRequiredError, ZoomTransportError } from '../src/zoom/zoom-errors';
import { ZoomS2sTokenService } from '../src/zoom/auth/zoom-s2s-token.service';
import { ZoomTokenProvider } from '../src/zoom/auth/zoom-token.provider';
import { RefreshLease } from '../src/zoom/auth/refresh-lease';
import { ZoomOAuthClient } from '../src/zoom/auth/zoom-oauth.client';
import { UserGrantStore } from '../src/zoom/auth/user-grant-store';
import { SimUser, ZoomSimulator } from '../src/simulator';
import { authorizeZoomUser, connectZoomUser, newZoomUser } from './factories/oauth-connection.factory';
import { useE2eContext } from './utils/e2e-context';
import { nodeArgsFor } from './utils/processes';
import { API_KEY, startTestApp, TestApp } from './utils/test-app';
import { waitFor, waitForJobState } from './utils/wait-for';

const REDIRECT_URI = 'https://ctx.hub.example.test/api/v1/oauth/zoom/callback';
const CLIENT_ID = 'oauth_e2e_client';
const CLIENT_SECRET = 'oauth_e2e_client_secret';
const S2S = { clientId: 'oauth_e2e_s2s', clientSecret: 'oauth_e2e_s2s_secret', accountId: 'oauth_e2e_account' };
const KEY_A = `ka:${randomBytes(32).toString('base64')}`;
// The new key's id holds dots (the keyring allows them): the envelope must still open after a rotation to it.
const KEY_B = `kb.2026.11:${randomBytes(32).toString('base64')}`;

interface RawRow {
  id: string;
  zoom_user_id: string;
  access_token_enc: string;
  refresh_token_enc: string;
  key_id: string;
  status: string;
  status_reason: string | null;
  expires_at: Date;
  token_version: number;
  last_refreshed_at: Date | null;
}

const newUser = (): SimUser => newZoomUser('oauth_e2e_user');

/**
 * Captures everything the app writes to stdout/stderr (pino writes through fs.writeSync
 * on fd 1, Nest's fallback logger through process.stdout). Nothing is echoed.
 */
function captureOutput(): { text: () => string; restore: () => void } {
  const chunks: string[] = [];
  const origWriteSync = fs.writeSync;
  const spySync = jest.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: unknown, ...rest: unknown[]) => {
    if (fd === 1 || fd === 2) {
      const s = typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
      chunks.push(s);
      return Buffer.byteLength(s);
    }
    return (origWriteSync as (...a: unknown[]) => number)(fd, data, ...rest);
  }) as typeof fs.writeSync);
  const origWrite = fs.write;
  const spyWrite = jest.spyOn(fs, 'write').mockImplementation(((fd: number, data: unknown, ...rest: unknown[]) => {
    if (fd === 1 || fd === 2) {
      const s = typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
      chunks.push(s);
      const cb = rest[rest.length - 1];
      if (typeof cb === 'function') process.nextTick(cb as (e: null, n: number) => void, null, Buffer.byteLength(s));
      return;
    }
    return (origWrite as (...a: unknown[]) => void)(fd, data, ...rest);
  }) as typeof fs.write);
  const spyOut = jest.spyOn(process.stdout, 'write').mockImplementation(((data: unknown) => {
    chunks.push(String(data));
    return true;
  }) as typeof process.stdout.write);
  const spyErr = jest.spyOn(process.stderr, 'write').mockImplementation(((data: unknown) => {
    chunks.push(String(data));
    return true;
  }) as typeof process.stderr.write);
  return {
    text: () => chunks.join(''),
    restore: () => {
      spySync.mockRestore();
      spyWrite.mockRestore();
      spyOut.mockRestore();
      spyErr.mockRestore();
    },
  };
}

describe('Zoom OAuth: token vault, state + PKCE, refresh single-flight, S2S, key rotation', () => {
  let output: ReturnType<typeof captureOutput>;
  beforeAll(() => {
    output = captureOutput();
  });

  const ctx = useE2eContext({
    simulator: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, s2s: S2S, redirectUris: [REDIRECT_URI] },
    hub: { api: true, worker: { queues: [QueueName.OAuth], explicit: true } },
    env: (sim) => ({ ...zoomEnv(sim as ZoomSimulator), LOG_LEVEL: 'debug' }),
    webhooks: false,
  });
  let peer: TestApp; // a second process on the same Postgres + Redis
  let db: DataSource;
  let redis: Redis;
  const cipher = new TokenCipher(parseKeyring(process.env.TOKEN_ENCRYPTION_KEYS));
  const responses: string[] = [];

  const zoomEnv = (sim: ZoomSimulator) => ({
    ZOOM_CLIENT_ID: CLIENT_ID,
    ZOOM_CLIENT_SECRET: CLIENT_SECRET,
    ZOOM_REDIRECT_URI: REDIRECT_URI,
    ZOOM_S2S_CLIENT_ID: S2S.clientId,
    ZOOM_S2S_CLIENT_SECRET: S2S.clientSecret,
    ZOOM_ACCOUNT_ID: S2S.accountId,
    ZOOM_OAUTH_BASE_URL: sim.oauthBaseUrl,
    ZOOM_API_BASE_URL: sim.apiBaseUrl,
    OAUTH_REDIRECT_ALLOWLIST: 'https://app.example.test/zoom/',
    ZOOM_HTTP_TIMEOUT_MS: '1000',
  });

  const server = () => ctx.hub.app.getHttpServer();
  const keep = (res: request.Response): request.Response => {
    responses.push(JSON.stringify(res.headers) + (res.text ?? ''));
    return res;
  };
  const rowOf = async (zoomUserId: string): Promise<RawRow | undefined> =>
    (await db.query('SELECT * FROM oauth_connections WHERE zoom_user_id = $1', [zoomUserId]))[0] as RawRow | undefined;
  const rowById = async (id: string): Promise<RawRow> => (await db.query('SELECT * FROM oauth_connections WHERE id = $1', [id]))[0] as RawRow;
  const plaintextTokens = (row: RawRow) => ({
    access: cipher.decrypt(row.access_token_enc, tokenAad(row.id, 'access_token')),
    refresh: cipher.decrypt(row.refresh_token_enc, tokenAad(row.id, 'refresh_token')),
  });
  const tokenCalls = (grant: string) => ctx.sim.restLog.filter((c) => c.path === '/oauth/token' && new URLSearchParams(c.body).get('grant_type') === grant);

  /** Browser-less dance: authorize → Zoom consent (simulator) → callback on the ctx.hub. */
  async function connect(user: SimUser, query = ''): Promise<{ callback: request.Response; authorizeUrl: URL; callbackPath: string }> {
    const { authorize, callback, authorizeUrl, callbackUrl, callbackPath } = await authorizeZoomUser(ctx.hub, ctx.sim, user, query);
    keep(authorize);
    expect(`${callbackUrl.origin}${callbackUrl.pathname}`).toBe(REDIRECT_URI);
    keep(callback);
    return { callback, authorizeUrl, callbackPath };
  }

  async function connectOk(user = newUser()): Promise<{ id: string; user: SimUser }> {
    const { callback } = await connect(user);
    expect(callback.status).toBe(200);
    return { id: callback.body.connection.id as string, user };
  }

  async function expireSoon(id: string, inMs = 60_000): Promise<void> {
    await db.query('UPDATE oauth_connections SET expires_at = $2 WHERE id = $1', [id, new Date(Date.now() + inMs)]);
  }

  beforeAll(async () => {
    // A worker process: its own OAuth services, same Postgres and Redis.
    peer = await ctx.startApp({ api: false, worker: { queues: [QueueName.OAuth], explicit: true } });
    db = ctx.hub.app.get(DataSource);
    redis = ctx.hub.app.get(REDIS_CLIENT);
    await db.query('DELETE FROM oauth_connections');
  });

  afterAll(() => {
    output?.restore();
  });

  describe('authorization code flow', () => {
    it('connects a Zoom user with state + PKCE S256, Basic client auth and the exact redirect_uri', async () => {
      const user = newUser();
      const { callback, authorizeUrl } = await connect(user, '?app_user_id=app-user-42');
      expect(authorizeUrl.origin + authorizeUrl.pathname).toBe(`${ctx.sim.oauthBaseUrl}/oauth/authorize`);
      const q = authorizeUrl.searchParams;
      expect(q.get('response_type')).toBe('code');
      expect(q.get('client_id')).toBe(CLIENT_ID);
      expect(q.get('redirect_uri')).toBe(REDIRECT_URI);
      expect(q.get('code_challenge_method')).toBe('S256');
      expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);

      expect(callback.status).toBe(200);
      expect(callback.body).toMatchObject({
        status: 'connected',
        connection: { zoom_user_id: user.id, zoom_account_id: S2S.accountId, email: user.email, app_user_id: 'app-user-42', status: 'active' },
      });
      expect(callback.body.connection.scopes).toContain('meeting:update:participant_rtms_app_status');

      // The code exchange Zoom saw.
      const exchange = tokenCalls('authorization_code').at(-1);
      expect(exchange).toBeDefined();
      const form = new URLSearchParams(exchange?.body);
      expect(exchange?.headers.authorization).toBe('Basic ' + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64'));
      expect(form.get('redirect_uri')).toBe(REDIRECT_URI);
      const verifier = form.get('code_verifier') ?? '';
      expect(verifier.length).toBeGreaterThanOrEqual(43);
      expect(createHash('sha256').update(verifier).digest('base64url')).toBe(q.get('code_challenge'));
      expect(ctx.sim.restLog.some((c) => c.path === '/v2/users/me' && c.status === 200)).toBe(true);

      // At rest: encrypted envelopes under the current key, bound to the row.
      const row = await rowOf(user.id);
      expect(row).toBeDefined();
      const tokens = plaintextTokens(row as RawRow);
      expect(tokens.access).toMatch(/^sim_at_/);
      expect(tokens.refresh).toMatch(/^sim_rt_/);
      for (const column of [row?.access_token_enc, row?.refresh_token_enc]) {
        expect(column).toMatch(/^v1\.test-k1\./);
        expect(column).not.toContain(tokens.access);
        expect(column).not.toContain(tokens.refresh);
        expect(column).not.toContain('sim_');
      }
      expect(row?.key_id).toBe('test-k1');
    });

    it('lists and shows connections without any token', async () => {
      const { id } = await connectOk();
      const list = keep(await request(server()).get('/api/v1/oauth/zoom/connections').set('x-api-key', API_KEY).expect(200));
      expect(list.body.data.map((c: { id: string }) => c.id)).toContain(id);
      const one = keep(await request(server()).get(`/api/v1/oauth/zoom/connections/${id}`).set('x-api-key', API_KEY).expect(200));
      expect(Object.keys(one.body).sort()).toEqual(
        ['access_token_expires_at', 'app_user_id', 'created_at', 'display_name', 'email', 'id', 'last_refreshed_at', 'scopes', 'status', 'status_reason', 'updated_at', 'zoom_account_id', 'zoom_user_id'].sort(),
      );
      const filtered = keep(await request(server()).get('/api/v1/oauth/zoom/connections?status=reauthorization_required').set('x-api-key', API_KEY).expect(200));
      expect(filtered.body.data.map((c: { id: string }) => c.id)).not.toContain(id);
      await request(server()).get('/api/v1/oauth/zoom/connections').expect(401);
      await request(server()).get('/api/v1/oauth/zoom/connections/not-a-uuid').set('x-api-key', API_KEY).expect(400);
      await request(server()).get('/api/v1/oauth/zoom/connections?status=bogus').set('x-api-key', API_KEY).expect(400);
      await request(server()).get('/api/v1/oauth/zoom/connections/00000000-0000-4000-8000-000000000000').set('x-api-key', API_KEY).expect(404);
    });

    it('re-authorizing the same Zoom user updates its one connection', async () => {
      const { id, user } = await connectOk();
      const before = await rowById(id);
      const again = await connect(user);
      expect(again.callback.status).toBe(200);
      expect(again.callback.body.connection.id).toBe(id);
      const after = await rowById(id);
      expect(after.token_version).toBe(before.token_version + 1);
      expect(plaintextTokens(after).access).not.toBe(plaintextTokens(before).access);
    });

    it('authorize needs an API key', async () => {
      await request(server()).get('/api/v1/oauth/zoom/authorize').expect(401);
    });

    describe('refuses a bad state with 400 and stores nothing', () => {
      const exchangesBefore = () => tokenCalls('authorization_code').length;

      it('missing state', async () => {
        const n = exchangesBefore();
        const res = keep(await request(server()).get('/api/v1/oauth/zoom/callback?code=abc').expect(400));
        expect(res.body).toMatchObject({ statusCode: 400, error: 'invalid_oauth_state' });
        await request(server()).get('/api/v1/oauth/zoom/callback').expect(400);
        expect(tokenCalls('authorization_code').length).toBe(n);
      });

      it('tampered state', async () => {
        const user = newUser();
        ctx.sim.setAuthorizingUser(user);
        const start = await request(server()).get('/api/v1/oauth/zoom/authorize').set('x-api-key', API_KEY).expect(302);
        const consent = await fetch(start.headers.location, { redirect: 'manual' });
        const back = new URL(consent.headers.get('location') ?? '');
        const state = back.searchParams.get('state') ?? '';
        const tampered = (state[0] === 'A' ? 'B' : 'A') + state.slice(1);
        back.searchParams.set('state', tampered);
        const n = exchangesBefore();
        const res = keep(await request(server()).get(back.pathname + back.search).expect(400));
        expect(res.body.error).toBe('invalid_oauth_state');
        expect(await rowOf(user.id)).toBeUndefined();
        expect(tokenCalls('authorization_code').length).toBe(n);
      });

      it('expired state', async () => {
        const user = newUser();
        ctx.sim.setAuthorizingUser(user);
        const start = await request(server()).get('/api/v1/oauth/zoom/authorize').set('x-api-key', API_KEY).expect(302);
        const state = new URL(start.headers.location).searchParams.get('state') ?? '';
        const key = `${process.env.QUEUE_PREFIX}:oauth:state:${createHash('sha256').update(state).digest('hex')}`;
        expect(await redis.ttl(key)).toBeGreaterThan(500); // default TTL 600 s
        await redis.pexpire(key, 1);
        await waitFor(async () => (await redis.exists(key)) === 0, { what: 'the state to expire' });
        const consent = await fetch(start.headers.location, { redirect: 'manual' });
        const back = new URL(consent.headers.get('location') ?? '');
        const n = exchangesBefore();
        const res = keep(await request(server()).get(back.pathname + back.search).expect(400));
        expect(res.body.error).toBe('invalid_oauth_state');
        expect(await rowOf(user.id)).toBeUndefined();
        expect(tokenCalls('authorization_code').length).toBe(n);
      });

      it('replayed state', async () => {
        const user = newUser();
        const first = await connect(user);
        expect(first.callback.status).toBe(200);
        const before = await rowOf(user.id);
        const n = exchangesBefore();
        const replay = keep(await request(server()).get(first.callbackPath).expect(400));
        expect(replay.body.error).toBe('invalid_oauth_state');
        expect(tokenCalls('authorization_code').length).toBe(n);
        const rows = await db.query('SELECT token_version FROM oauth_connections WHERE zoom_user_id = $1', [user.id]);
        expect(rows).toEqual([{ token_version: before?.token_version }]);
      });

      it('a state is single use even when the first callback failed at Zoom', async () => {
        const user = newUser();
        ctx.sim.setAuthorizingUser(user);
        const start = await request(server()).get('/api/v1/oauth/zoom/authorize').set('x-api-key', API_KEY).expect(302);
        const consent = await fetch(start.headers.location, { redirect: 'manual' });
        const back = new URL(consent.headers.get('location') ?? '');
        back.searchParams.set('code', 'not-a-real-code');
        const bad = keep(await request(server()).get(back.pathname + back.search).expect(400));
        expect(bad.body.error).toBe('invalid_authorization_code');
        await request(server()).get(back.pathname + back.search).expect(400, /invalid_oauth_state/);
        expect(await rowOf(user.id)).toBeUndefined();
      });

      it('user denied consent', async () => {
        ctx.sim.setAuthorizingUser(null);
        const start = await request(server()).get('/api/v1/oauth/zoom/authorize').set('x-api-key', API_KEY).expect(302);
        const consent = await fetch(start.headers.location, { redirect: 'manual' });
        const back = new URL(consent.headers.get('location') ?? '');
        expect(back.searchParams.get('error')).toBe('access_denied');
        const res = keep(await request(server()).get(back.pathname + back.search).expect(400));
        expect(res.body.error).toBe('oauth_denied');
      });
    });

    it('redirect_after must be on the allow-list; an allowed one receives the connection id', async () => {
      const bad = keep(
        await request(server())
          .get('/api/v1/oauth/zoom/authorize?redirect_after=' + encodeURIComponent('https://evil.example.test/zoom/'))
          .set('x-api-key', API_KEY)
          .expect(400),
      );
      expect(bad.body.error).toBe('redirect_not_allowed');
      const user = newUser();
      const { callback } = await connect(user, '?redirect_after=' + encodeURIComponent('https://app.example.test/zoom/done?x=1'));
      expect(callback.status).toBe(302);
      const to = new URL(callback.headers.location);
      expect(to.origin + to.pathname).toBe('https://app.example.test/zoom/done');
      expect(to.searchParams.get('x')).toBe('1');
      expect(to.searchParams.get('oauth_status')).toBe('connected');
      expect(to.searchParams.get('connection_id')).toBe((await rowOf(user.id))?.id);
    });
  });

  describe('token provider', () => {
    it('hands out the stored token while it has more than 5 minutes left', async () => {
      const { id } = await connectOk();
      const refreshes = ctx.sim.stats.tokenRefreshes;
      const token = await ctx.hub.app.get(ZoomTokenProvider).getAccessToken(id);
      expect(token).toBe(plaintextTokens(await rowById(id)).access);
      expect(ctx.sim.stats.tokenRefreshes).toBe(refreshes);
    });

    it('20 concurrent requests across two processes for a token that needs refresh → exactly one refresh', async () => {
      const { id } = await connectOk();
      const before = await rowById(id);
      await expireSoon(id, 4 * 60_000); // < 5 min left
      const refreshes = ctx.sim.stats.tokenRefreshes;
      const providers = [ctx.hub.app.get(ZoomTokenProvider), peer.app.get(ZoomTokenProvider)];
      const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => providers[i % 2].getAccessToken(id)));
      expect(ctx.sim.stats.tokenRefreshes - refreshes).toBe(1);
      expect(ctx.sim.stats.refreshesByToken[plaintextTokens(before).refresh]).toBe(1);
      expect(new Set(tokens).size).toBe(1);
      const after = await rowById(id);
      expect(tokens[0]).toBe(plaintextTokens(after).access);
      expect(tokens[0]).not.toBe(plaintextTokens(before).access);
      expect(after.token_version).toBe(before.token_version + 1);
      expect(after.last_refreshed_at).not.toBeNull();
      expect(after.expires_at.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
      // The new token works at Zoom; the rotated refresh token replaced the old one.
      expect(plaintextTokens(after).refresh).not.toBe(plaintextTokens(before).refresh);
      const me = await fetch(`${ctx.sim.apiBaseUrl}/users/me`, { headers: { authorization: `Bearer ${tokens[0]}` } });
      expect(me.status).toBe(200);
    });

    it('a 401 from Zoom for the current token forces one refresh (rejectedToken)', async () => {
      const { id } = await connectOk();
      const provider = ctx.hub.app.get(ZoomTokenProvider);
      const current = await provider.getAccessToken(id);
      const refreshes = ctx.sim.stats.tokenRefreshes;
      const [a, b] = await Promise.all([provider.getAccessToken(id, { rejectedToken: current }), peer.app.get(ZoomTokenProvider).getAccessToken(id, { rejectedToken: current })]);
      expect(a).toBe(b);
      expect(a).not.toBe(current);
      expect(ctx.sim.stats.tokenRefreshes - refreshes).toBe(1);
    });

    it('a stale refresh (lease lost, or a re-consent meanwhile) never overwrites newer tokens', async () => {
      const { id, user } = await connectOk();
      const service = ctx.hub.app.get(OAuthConnectionsService);
      const stale = await service.get(id);
      const staleTokens = { accessToken: 'stale-access', refreshToken: 'stale-refresh', expiresInSec: 3600, scope: stale.scopes };
      // Another process refreshes first (version +1)...
      const provider = ctx.hub.app.get(ZoomTokenProvider);
      const newer = await provider.getAccessToken(id, { rejectedToken: await provider.getAccessToken(id) });
      const afterRefresh = await rowById(id);
      expect(afterRefresh.token_version).toBe(stale.tokenVersion + 1);
      // ... then the one that started from the old version finishes: it loses, and gets the newer tokens.
      const returned = await service.storeRefreshed(stale, staleTokens);
      expect(service.openAccessToken(returned)).toBe(newer);
      expect(plaintextTokens(await rowById(id))).toEqual(plaintextTokens(afterRefresh));
      expect((await rowById(id)).token_version).toBe(afterRefresh.token_version);

      // A re-consent also moves the version on: a refresh begun before it loses too.
      const beforeConsent = await service.get(id);
      await connect(user);
      const consented = await rowById(id);
      expect(consented.token_version).toBe(beforeConsent.tokenVersion + 1);
      await service.storeRefreshed(beforeConsent, staleTokens);
      expect(plaintextTokens(await rowById(id))).toEqual(plaintextTokens(consented));
      // The current version still writes.
      const fresh = await service.storeRefreshed(await service.get(id), staleTokens);
      expect(service.openAccessToken(fresh)).toBe('stale-access');
      expect(fresh.tokenVersion).toBe(consented.token_version + 1);
    });

    it('a refresh whose save fails keeps the rotated tokens (sealed, in Redis); the next refresh stores them without asking Zoom again', async () => {
      const { id } = await connectOk();
      const before = await rowById(id);
      await expireSoon(id, 4 * 60_000);
      const provider = ctx.hub.app.get(ZoomTokenProvider);
      const store = ctx.hub.app.get(UserGrantStore);
      const refreshes = ctx.sim.stats.tokenRefreshes;
      // Zoom rotates the refresh token; then the database goes away for every try at saving.
      const save = jest.spyOn(store, 'saveRefreshed').mockRejectedValue(new Error('Connection terminated unexpectedly'));
      try {
        await expect(provider.getAccessToken(id)).rejects.toThrow('Connection terminated unexpectedly');
      } finally {
        save.mockRestore();
      }
      expect(ctx.sim.stats.tokenRefreshes - refreshes).toBe(1);
      const token = await provider.getAccessToken(id);
      expect(ctx.sim.stats.tokenRefreshes - refreshes).toBe(1);
      const after = await rowById(id);
      expect(after.status).toBe(ConnectionStatus.Active);
      expect(plaintextTokens(after).access).toBe(token);
      expect(plaintextTokens(after).refresh).not.toBe(plaintextTokens(before).refresh);
      expect(after.token_version).toBe(before.token_version + 1);
      const me = await fetch(`${ctx.sim.apiBaseUrl}/users/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(200);
    });

    it('a refresh refused by Zoom marks the connection reauthorization_required and says so in the API', async () => {
      const { id } = await connectOk();
      await expireSoon(id);
      ctx.sim.faults.restError({ status: 400, match: '/oauth/token', method: 'POST', body: { reason: 'Invalid Token!', error: 'invalid_grant', code: 4735 } });
      const provider = ctx.hub.app.get(ZoomTokenProvider);
      await expect(provider.getAccessToken(id)).rejects.toBeInstanceOf(ReauthorizationRequiredError);
      const row = await rowById(id);
      expect(row.status).toBe(ConnectionStatus.ReauthorizationRequired);
      expect(row.status_reason).toContain('4735');
      // Further requests fail fast without calling Zoom.
      const calls = tokenCalls('refresh_token').length;
      await expect(peer.app.get(ZoomTokenProvider).getAccessToken(id)).rejects.toMatchObject({ code: 'reauthorization_required' });
      expect(tokenCalls('refresh_token').length).toBe(calls);
      const api = keep(await request(server()).get(`/api/v1/oauth/zoom/connections/${id}`).set('x-api-key', API_KEY).expect(200));
      expect(api.body).toMatchObject({ status: 'reauthorization_required' });
      const list = keep(await request(server()).get('/api/v1/oauth/zoom/connections?status=reauthorization_required').set('x-api-key', API_KEY).expect(200));
      expect(list.body.data.map((c: { id: string }) => c.id)).toContain(id);
    });

    it('a grant revoked at Zoom (4741) also requires reauthorization', async () => {
      const { id } = await connectOk();
      const row = await rowById(id);
      // The user removed the app at Zoom: revoke its grant with Zoom's own revoke endpoint.
      const revoked = await fetch(`${ctx.sim.oauthBaseUrl}/oauth/revoke`, {
        method: 'POST',
        headers: { authorization: 'Basic ' + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: plaintextTokens(row).access }).toString(),
      });
      expect(revoked.status).toBe(200);
      await expireSoon(id);
      await expect(ctx.hub.app.get(ZoomTokenProvider).getAccessToken(id)).rejects.toBeInstanceOf(ReauthorizationRequiredError);
      expect((await rowById(id)).status_reason).toContain('4741');
    });

    it('transport trouble (5xx, timeout) is a typed retryable error and keeps the connection', async () => {
      const { id } = await connectOk();
      await expireSoon(id);
      const provider = ctx.hub.app.get(ZoomTokenProvider);
      ctx.sim.faults.rest5xx('/oauth/token', 1, 503);
      const err = await provider.getAccessToken(id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ZoomTransportError);
      expect((err as ZoomTransportError).retryable).toBe(true);
      ctx.sim.faults.slowRest({ match: '/oauth/token', delayMs: 1500 });
      const rotatedBefore = ctx.sim.stats.tokenRefreshes;
      const slow = await provider.getAccessToken(id).catch((e: unknown) => e);
      expect(slow).toBeInstanceOf(ZoomTransportError);
      expect((slow as Error).message).toContain('timed out');
      await waitFor(() => ctx.sim.stats.tokenRefreshes > rotatedBefore, { what: 'the slow refresh to finish at Zoom' });
      const row = await rowById(id);
      expect(row.status).toBe('active');
      // The slow refresh reached Zoom, which rotated the token; its answer was lost, so
      // the stored refresh token is now stale — exactly Zoom's documented hazard. A
      // fresh connection recovers:
      const ok = await connectOk();
      await expireSoon(ok.id);
      await expect(provider.getAccessToken(ok.id)).resolves.toMatch(/^sim_at_/);
    });

    it('the oauth queue refreshes a connection proactively before it expires', async () => {
      const { id } = await connectOk();
      const queue = ctx.hub.producer.queue(QueueName.OAuth);
      // Connecting scheduled a token.refresh for 10 minutes before the token expires.
      const scheduled = await queue.getJob(`token-refresh-${id}-v1`);
      expect(scheduled).toBeDefined();
      expect(await scheduled?.getState()).toBe('delayed');
      const due = (scheduled?.timestamp ?? 0) + (scheduled?.opts.delay ?? 0);
      const expiresAt = (await rowById(id)).expires_at.getTime();
      expect(Math.abs(expiresAt - 10 * 60_000 - due)).toBeLessThan(5000);
      // Time passes: the token is now inside the window and the job comes due.
      await expireSoon(id, 9 * 60_000);
      const oldRefresh = plaintextTokens(await rowById(id)).refresh;
      await scheduled?.promote();
      await waitFor(async () => (await rowById(id)).last_refreshed_at !== null, { what: 'the token.refresh job' });
      expect(ctx.sim.stats.refreshesByToken[oldRefresh]).toBe(1);
      const row = await rowById(id);
      expect(row.expires_at.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
      // ... and scheduled the next one, delayed until shortly before the new expiry.
      expect(row.token_version).toBe(2);
      // Scheduled just after the refreshed row is stored.
      await waitForJobState(queue, `token-refresh-${id}-v2`, 'delayed');
    });
  });

  describe('disconnecting', () => {
    it('DELETE revokes the grant at Zoom, then deletes the row', async () => {
      const { id } = await connectOk();
      const { access } = plaintextTokens(await rowById(id));
      const revocations = ctx.sim.stats.revocations;
      await request(server()).delete(`/api/v1/oauth/zoom/connections/${id}`).set('x-api-key', API_KEY).expect(204);
      expect(ctx.sim.stats.revocations - revocations).toBe(1);
      const revokeCall = ctx.sim.restLog.filter((c) => c.path === '/oauth/revoke').at(-1);
      expect(revokeCall?.query).toEqual({}); // never in the URL
      expect(await db.query('SELECT 1 FROM oauth_connections WHERE id = $1', [id])).toEqual([]);
      const me = await fetch(`${ctx.sim.apiBaseUrl}/users/me`, { headers: { authorization: `Bearer ${access}` } });
      expect(me.status).toBe(401);
      await request(server()).delete(`/api/v1/oauth/zoom/connections/${id}`).set('x-api-key', API_KEY).expect(404);
    });

    it('a DELETE during a refresh waits for it and revokes the refresh token it rotated to, not the spent one', async () => {
      const { id } = await connectOk();
      const spent = plaintextTokens(await rowById(id)).refresh;
      await expireSoon(id, 4 * 60_000);
      const client = ctx.hub.app.get(ZoomOAuthClient, { strict: false });
      const lease = ctx.hub.app.get(RefreshLease, { strict: false });
      const refresh = client.refresh.bind(client);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let refreshing = false;
      const held = jest.spyOn(client, 'refresh').mockImplementationOnce(async (rt) => {
        refreshing = true;
        await gate;
        return refresh(rt);
      });
      const acquire = lease.acquire.bind(lease);
      let refusedWhileRefreshing = false;
      const tries = jest.spyOn(lease, 'acquire').mockImplementation(async (connectionId) => {
        const token = await acquire(connectionId);
        if (token === null && refreshing) refusedWhileRefreshing = true;
        return token;
      });
      try {
        const token = ctx.hub.app.get(ZoomTokenProvider).getAccessToken(id);
        await waitFor(() => refreshing, { what: 'the refresh to reach Zoom' });
        const deleted = request(server()).delete(`/api/v1/oauth/zoom/connections/${id}`).set('x-api-key', API_KEY).then((r) => r.status);
        // The DELETE waits for the refresh's lease; only then does the refresh go on.
        await waitFor(() => refusedWhileRefreshing, { timeoutMs: 5000, what: 'the DELETE to wait for the refresh lease' });
        release();
        await token;
        expect(await deleted).toBe(204);
      } finally {
        held.mockRestore();
        tries.mockRestore();
      }
      const revoked = new URLSearchParams(ctx.sim.restLog.filter((c) => c.path === '/oauth/revoke').at(-1)!.body).get('token');
      expect(revoked).not.toBe(spent);
      expect(ctx.sim.stats.refreshesByToken[spent]).toBe(1);
    });

    it('keeps the row when Zoom cannot be reached, unless force=true', async () => {
      const { id } = await connectOk();
      ctx.sim.faults.rest5xx('/oauth/revoke', 1, 503);
      const res = keep(await request(server()).delete(`/api/v1/oauth/zoom/connections/${id}`).set('x-api-key', API_KEY).expect(502));
      expect(res.body.error).toBe('zoom_unavailable');
      expect(await db.query('SELECT 1 FROM oauth_connections WHERE id = $1', [id])).toHaveLength(1);
      ctx.sim.faults.rest5xx('/oauth/revoke', 1, 503);
      await request(server()).delete(`/api/v1/oauth/zoom/connections/${id}?force=true`).set('x-api-key', API_KEY).expect(204);
      expect(await db.query('SELECT 1 FROM oauth_connections WHERE id = $1', [id])).toEqual([]);
    });

    it('deleteConnectionsForZoomUser (app_deauthorized) deletes that user’s tokens only', async () => {
      const a = await connectOk();
      const b = await connectOk();
      const service = ctx.hub.app.get(OAuthConnectionsService);
      expect(await service.deleteConnectionsForZoomUser(a.user.id, S2S.accountId)).toBe(1);
      expect(await rowOf(a.user.id)).toBeUndefined();
      expect(await rowOf(b.user.id)).toBeDefined();
      expect(await service.deleteConnectionsForZoomUser('nobody')).toBe(0);
    });
  });

  describe('Server-to-Server OAuth', () => {
    it('one account_credentials token for 20 concurrent callers in two processes, cached encrypted until 60 s before expiry', async () => {
      const before = tokenCalls('account_credentials').length;
      const services = [ctx.hub.app.get(ZoomS2sTokenService), peer.app.get(ZoomS2sTokenService)];
      const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => services[i % 2].getAccountToken()));
      expect(new Set(tokens).size).toBe(1);
      expect(tokenCalls('account_credentials').length - before).toBe(1);
      const call = tokenCalls('account_credentials').at(-1);
      expect(call?.headers.authorization).toBe('Basic ' + Buffer.from(`${S2S.clientId}:${S2S.clientSecret}`).toString('base64'));
      const key = `${process.env.QUEUE_PREFIX}:oauth:s2s:${S2S.accountId}:${S2S.clientId}`;
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(3400);
      expect(ttl).toBeLessThanOrEqual(3540);
      expect(await redis.get(key)).not.toContain(tokens[0]);
      // Cached: no new call.
      expect(await services[1].getAccountToken()).toBe(tokens[0]);
      expect(tokenCalls('account_credentials').length - before).toBe(1);
      // A 401 for it drops the cache; the next caller fetches a new one.
      await services[0].invalidate(tokens[0]);
      const fresh = await services[1].getAccountToken();
      expect(fresh).not.toBe(tokens[0]);
      expect(tokenCalls('account_credentials').length - before).toBe(2);
      const rooms = await fetch(`${ctx.sim.apiBaseUrl}/rooms`, { headers: { authorization: `Bearer ${fresh}` } });
      expect(rooms.status).toBe(200);
    });
  });

  describe('secrets never leak', () => {
    it('no token appears in any API response or captured log line', async () => {
      const rows = (await db.query('SELECT * FROM oauth_connections')) as RawRow[];
      const secrets = new Set<string>();
      for (const row of rows) {
        const t = plaintextTokens(row);
        secrets.add(t.access);
        secrets.add(t.refresh);
      }
      for (const token of ctx.sim.oauth.access.keys()) secrets.add(token);
      expect(secrets.size).toBeGreaterThan(10);
      const logs = output.text();
      expect(logs.length).toBeGreaterThan(1000); // debug logging was on and captured
      expect(logs).toContain('Zoom user connected');
      const everything = responses.join('\n');
      for (const s of [...secrets, CLIENT_SECRET, S2S.clientSecret]) {
        expect(everything).not.toContain(s);
        expect(logs).not.toContain(s);
      }
      expect(logs).not.toMatch(/sim_(at|rt)_/);
      expect(everything).not.toMatch(/sim_(at|rt)_/);
      expect(logs).not.toMatch(/code_verifier|code=[A-Za-z0-9_-]{10}/);
    });
  });
});

describe('Token encryption keys', () => {
  const ctx = useE2eContext({ simulator: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] } });
  const env = (keys: string) => ({
    ZOOM_CLIENT_ID: CLIENT_ID,
    ZOOM_CLIENT_SECRET: CLIENT_SECRET,
    ZOOM_REDIRECT_URI: REDIRECT_URI,
    ZOOM_OAUTH_BASE_URL: ctx.sim.oauthBaseUrl,
    ZOOM_API_BASE_URL: ctx.sim.apiBaseUrl,
    TOKEN_ENCRYPTION_KEYS: keys,
  });

  beforeAll(async () => {
    // Rows of the suite above are sealed with the default test key, not A or B.
    const db = await new DataSource(buildDataSourceOptions(process.env.DATABASE_URL ?? '', 1)).initialize();
    await db.query('DELETE FROM oauth_connections');
    await db.destroy();
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['a 16-byte key', `k:${randomBytes(16).toString('base64')}`],
    ['no id', randomBytes(32).toString('base64')],
  ])('configuration is refused with %s TOKEN_ENCRYPTION_KEYS', (_what, keys) => {
    const raw: Record<string, unknown> = { ...process.env, TOKEN_ENCRYPTION_KEYS: keys };
    expect(() => loadAppConfig(raw)).toThrow(/TOKEN_ENCRYPTION_KEYS/);
  });

  it('the API process exits at boot without a valid key, naming the variable but not the key', async () => {
    const shortKey = randomBytes(16).toString('base64');
    const run = promisify(execFile)(process.execPath, nodeArgsFor('src/main.api.ts'), {
      env: { ...process.env, TOKEN_ENCRYPTION_KEYS: `k1:${shortKey}`, TS_NODE_TRANSPILE_ONLY: 'true' },
      cwd: process.cwd(),
      timeout: 30000,
    });
    const err = (await run.then(() => undefined, (e: unknown) => e)) as { code?: number; stderr?: string } | undefined;
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain('TOKEN_ENCRYPTION_KEYS');
    expect(err?.stderr).not.toContain(shortKey);
  });

  // A long timeout: the command loads every module owning a sealed table (through ts-node, tens of seconds on a loaded machine).
  it('rotation: rows under A are read with A+B, the re-encrypt command moves them to B, and B alone reads them', async () => {
    const user = newUser();
    const withA = await startTestApp({ api: true }, env(KEY_A));
    let id: string;
    let tokenUnderA: string;
    try {
      id = await connectZoomUser(withA, ctx.sim, user);
      tokenUnderA = await withA.app.get(ZoomTokenProvider).getAccessToken(id);
    } finally {
      await withA.close();
    }
    const db = await new DataSource(buildDataSourceOptions(process.env.DATABASE_URL ?? '', 1)).initialize();
    try {
      const keyOf = async () => ((await db.query('SELECT key_id, access_token_enc, refresh_token_enc FROM oauth_connections WHERE id = $1', [id]))[0] as RawRow);
      expect((await keyOf()).key_id).toBe('ka');

      // Step 1: every process runs with B (new, first) and A.
      const withBA = await startTestApp({ api: true }, env(`${KEY_B},${KEY_A}`));
      try {
        expect(await withBA.app.get(ZoomTokenProvider).getAccessToken(id)).toBe(tokenUnderA);
      } finally {
        await withBA.close();
      }
      expect((await keyOf()).key_id).toBe('ka'); // reading does not rewrite

      // Step 2: the re-encrypt command (the real entrypoint, as `npm run tokens:reencrypt` runs it).
      // It re-seals every kind of sealed value in the shared test database: other files' rows
      // (sealed with the test env's key, not in this ring) make it exit 1, naming them, not this row.
      const run = await promisify(execFile)(process.execPath, nodeArgsFor('src/database/reencrypt-secrets.ts'), {
        env: { ...process.env, TOKEN_ENCRYPTION_KEYS: `${KEY_B},${KEY_A}`, TS_NODE_TRANSPILE_ONLY: 'true' },
        cwd: process.cwd(),
      }).catch((err: { code?: number; stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }));
      expect(run.stdout).toContain('with key "kb.2026.11"');
      expect(run.stdout).toMatch(/oauth_connections: [1-9]\d* rewritten/);
      expect(run.stderr).not.toContain(id);
      const row = await keyOf();
      expect(row.key_id).toBe('kb.2026.11');
      expect(TokenCipher.keyIdOf(row.access_token_enc)).toBe('kb.2026.11');
      expect(TokenCipher.keyIdOf(row.refresh_token_enc)).toBe('kb.2026.11');
      // Idempotent: a second run rewrites nothing.
      const again = await resealConnectionTokens(db, new TokenCipher(parseKeyring(`${KEY_B},${KEY_A}`)));
      expect(again.rewritten).toBe(0);
      expect(again.failed).toEqual([]);

      // Step 3: A removed.
      const withB = await startTestApp({ api: true }, env(KEY_B));
      try {
        expect(await withB.app.get(ZoomTokenProvider).getAccessToken(id)).toBe(tokenUnderA);
      } finally {
        await withB.close();
      }
      // Rows the ring cannot open are reported, not silently skipped.
      const orphan = await resealConnectionTokens(db, new TokenCipher(parseKeyring(`kc:${randomBytes(32).toString('base64')}`)));
      expect(orphan.failed).toContain(id);
    } finally {
      await db.query('DELETE FROM oauth_connections WHERE id = $1', [id]).catch(() => undefined);
      await db.destroy();
    }
  }, 180_000);
});
