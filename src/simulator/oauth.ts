/** Zoom OAuth server: authorization code + PKCE, refresh rotation, S2S, client credentials, revoke. */
import type { IncomingMessage, ServerResponse } from 'http';
import { basicAuth, parseForm, sendJson } from './http-util';
import { pkceS256, randomToken, safeEqual } from './signing';
import type { SimUser } from './types';

export type TokenKind = 'user' | 'account' | 'client';

export interface AccessTokenInfo {
  token: string;
  kind: TokenKind;
  clientId: string;
  accountId: string;
  userId?: string;
  grantId: number;
  expiresAt: number;
  revoked: boolean;
  scope: string;
}

interface RefreshTokenInfo {
  token: string;
  clientId: string;
  userId: string;
  accountId: string;
  grantId: number;
  used: boolean;
  revoked: boolean;
}

interface AuthCode {
  clientId: string;
  redirectUri: string;
  challenge?: string;
  method?: string;
  user: SimUser;
  expiresAt: number;
  used: boolean;
}

export interface OAuthConfig {
  clientId: string;
  clientSecret: string;
  s2s: { clientId: string; clientSecret: string; accountId: string };
  generalApp: { clientId: string; clientSecret: string };
  redirectUris: string[];
  accessTokenTtlSec: number;
  apiBaseUrl: () => string;
}

export interface OAuthStats {
  tokensIssued: number;
  tokenRefreshes: number;
  /** Successful refreshes per refresh token presented. */
  refreshesByToken: Record<string, number>;
  failedRefreshes: number;
  revocations: number;
}

/** The user who authorizes the app and hosts meetings when a test names no other. */
export const DEFAULT_USER: SimUser = { id: 'sim_user_host_1', email: 'host@sim.zoom.test', first_name: 'Sim', last_name: 'Host' };

const USER_SCOPE = 'meeting:update:participant_rtms_app_status user:read:user meeting:read:meeting_audio meeting:read:meeting_video meeting:read:meeting_transcript meeting:read:meeting_chat';
const ACCOUNT_SCOPE = 'meeting:update:participant_rtms_app_status:admin room:read:admin room:write:admin user:read:user:admin';

/** Zoom's 401 body for a bad, expired or revoked access token. */
export function invalidTokenBody(expired: boolean): { code: number; message: string } {
  return { code: 124, message: expired ? 'Access token is expired.' : 'Invalid access token.' };
}

export class OAuthServer {
  readonly access = new Map<string, AccessTokenInfo>();
  private readonly refresh = new Map<string, RefreshTokenInfo>();
  private readonly codes = new Map<string, AuthCode>();
  private nextGrant = 1;
  authorizingUser: SimUser | null;
  readonly stats: OAuthStats = { tokensIssued: 0, tokenRefreshes: 0, refreshesByToken: {}, failedRefreshes: 0, revocations: 0 };

  constructor(private readonly cfg: OAuthConfig, defaultUser: SimUser) {
    this.authorizingUser = defaultUser;
  }

  /** Returns true if handled. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, body: string): Promise<number | undefined> {
    const p = url.pathname;
    if (p === '/oauth/authorize' && req.method === 'GET') return this.authorize(res, url);
    if (p === '/oauth/token' && req.method === 'POST') return this.token(req, res, url, body);
    if (p === '/oauth/revoke' && req.method === 'POST') return this.revoke(req, res, url, body);
    return undefined;
  }

  private err(res: ServerResponse, status: number, reason: string, error: string, code?: number): number {
    sendJson(res, status, code === undefined ? { reason, error } : { reason, error, code });
    return status;
  }

  private authorize(res: ServerResponse, url: URL): number {
    const q = url.searchParams;
    const clientId = q.get('client_id') ?? '';
    const redirectUri = q.get('redirect_uri') ?? '';
    if (clientId !== this.cfg.clientId) return this.err(res, 400, 'Invalid client_id', 'invalid_client');
    const allowed = this.cfg.redirectUris.length ? this.cfg.redirectUris.includes(redirectUri) : /^https?:\/\//.test(redirectUri);
    if (!allowed) return this.err(res, 400, 'Invalid redirect: ' + redirectUri, 'invalid_request');
    const redirect = new URL(redirectUri);
    const state = q.get('state');
    if (state !== null) redirect.searchParams.set('state', state);
    if (q.get('response_type') !== 'code') {
      redirect.searchParams.set('error', 'unsupported_response_type');
      res.writeHead(302, { location: redirect.toString() });
      res.end();
      return 302;
    }
    const method = q.get('code_challenge_method') ?? undefined;
    const challenge = q.get('code_challenge') ?? undefined;
    if (challenge && method && method !== 'S256' && method !== 'plain') return this.err(res, 400, 'Invalid code_challenge_method', 'invalid_request');
    if (!this.authorizingUser) {
      redirect.searchParams.set('error', 'access_denied');
      res.writeHead(302, { location: redirect.toString() });
      res.end();
      return 302;
    }
    const code = randomToken(24);
    this.codes.set(code, { clientId, redirectUri, challenge, method: challenge ? (method ?? 'plain') : undefined, user: this.authorizingUser, expiresAt: Date.now() + 5 * 60_000, used: false });
    redirect.searchParams.set('code', code);
    res.writeHead(302, { location: redirect.toString() });
    res.end();
    return 302;
  }

  private clientAuth(req: IncomingMessage): { id: string; secret: string } | undefined {
    const c = basicAuth(req);
    if (!c) return undefined;
    const known = [
      { id: this.cfg.clientId, secret: this.cfg.clientSecret },
      { id: this.cfg.s2s.clientId, secret: this.cfg.s2s.clientSecret },
      { id: this.cfg.generalApp.clientId, secret: this.cfg.generalApp.clientSecret },
    ];
    return known.some((k) => k.id === c.id && safeEqual(k.secret, c.secret)) ? c : undefined;
  }

  private issue(res: ServerResponse, kind: TokenKind, clientId: string, accountId: string, userId: string | undefined, grantId: number, withRefresh: boolean): number {
    const token = 'sim_at_' + randomToken(32);
    const scope = kind === 'user' ? USER_SCOPE : ACCOUNT_SCOPE;
    this.access.set(token, { token, kind, clientId, accountId, userId, grantId, expiresAt: Date.now() + this.cfg.accessTokenTtlSec * 1000, revoked: false, scope });
    this.stats.tokensIssued++;
    const body: Record<string, unknown> = { access_token: token, token_type: 'bearer', expires_in: this.cfg.accessTokenTtlSec, scope, api_url: this.cfg.apiBaseUrl().replace(/\/v2$/, '') };
    if (withRefresh && userId) {
      const rt = 'sim_rt_' + randomToken(32);
      this.refresh.set(rt, { token: rt, clientId, userId, accountId, grantId, used: false, revoked: false });
      body.refresh_token = rt;
    }
    sendJson(res, 200, body);
    return 200;
  }

  private token(req: IncomingMessage, res: ServerResponse, url: URL, body: string): number {
    const client = this.clientAuth(req);
    if (!client) return this.err(res, 401, 'Invalid client_id or client_secret', 'invalid_client');
    // rtms-protocol.md §5: since Feb 2023 Zoom rejects token values in URL query strings. Only
    // the S2S grant's parameters (grant_type, account_id) may come there, as the samples send them.
    if (url.searchParams.has('code') || url.searchParams.has('refresh_token')) return this.err(res, 400, 'Token must not be sent in the URL query', 'invalid_request');
    const form = { ...Object.fromEntries(url.searchParams), ...parseForm(body, req.headers['content-type']) };
    switch (form.grant_type) {
      case 'authorization_code': {
        if (client.id !== this.cfg.clientId) return this.err(res, 400, 'Unsupported grant type', 'unsupported_grant_type');
        const c = form.code ? this.codes.get(form.code) : undefined;
        if (!c || c.used || c.expiresAt < Date.now() || c.clientId !== client.id) {
          if (c) c.used = true;
          return this.err(res, 400, 'Invalid authorization code', 'invalid_grant', 4733);
        }
        c.used = true;
        if (form.redirect_uri !== c.redirectUri) return this.err(res, 400, 'Redirect URI mismatch.', 'invalid_request');
        if (c.challenge) {
          const v = form.code_verifier;
          if (!v) return this.err(res, 400, 'Missing code_verifier', 'invalid_request');
          const expected = c.method === 'S256' ? pkceS256(v) : v;
          if (!safeEqual(expected, c.challenge)) return this.err(res, 400, 'Invalid code_verifier', 'invalid_grant');
        }
        return this.issue(res, 'user', client.id, c.user.account_id ?? this.cfg.s2s.accountId, c.user.id, this.nextGrant++, true);
      }
      case 'refresh_token': {
        const rt = form.refresh_token ? this.refresh.get(form.refresh_token) : undefined;
        if (!rt || rt.used || rt.revoked || rt.clientId !== client.id) {
          this.stats.failedRefreshes++;
          return this.err(res, 400, 'Invalid Token!', 'invalid_grant', rt?.revoked ? 4741 : 4735);
        }
        rt.used = true;
        this.stats.tokenRefreshes++;
        this.stats.refreshesByToken[rt.token] = (this.stats.refreshesByToken[rt.token] ?? 0) + 1;
        return this.issue(res, 'user', client.id, rt.accountId, rt.userId, rt.grantId, true);
      }
      case 'account_credentials': {
        if (client.id !== this.cfg.s2s.clientId) return this.err(res, 400, 'Unsupported grant type', 'unsupported_grant_type');
        if (form.account_id !== this.cfg.s2s.accountId) return this.err(res, 400, 'Invalid account_id', 'invalid_request');
        return this.issue(res, 'account', client.id, this.cfg.s2s.accountId, undefined, this.nextGrant++, false);
      }
      case 'client_credentials':
        return this.issue(res, 'client', client.id, this.cfg.s2s.accountId, undefined, this.nextGrant++, false);
      default:
        return this.err(res, 400, 'Unsupported grant type', 'unsupported_grant_type');
    }
  }

  private revoke(req: IncomingMessage, res: ServerResponse, url: URL, body: string): number {
    const client = this.clientAuth(req);
    if (!client) return this.err(res, 401, 'Invalid client_id or client_secret', 'invalid_client');
    if (url.searchParams.has('token')) return this.err(res, 400, 'Token must not be sent in the URL query', 'invalid_request');
    const token = parseForm(body, req.headers['content-type']).token;
    const grant = (token && (this.access.get(token)?.grantId ?? this.refresh.get(token)?.grantId)) || undefined;
    if (!grant) return this.err(res, 400, 'Invalid Token!', 'invalid_request');
    this.revokeGrant(grant);
    this.stats.revocations++;
    sendJson(res, 200, { status: 'success' });
    return 200;
  }

  revokeGrant(grantId: number): void {
    for (const a of this.access.values()) if (a.grantId === grantId) a.revoked = true;
    for (const r of this.refresh.values()) if (r.grantId === grantId) r.revoked = true;
  }

  /** Validate a bearer token; returns the info or the 401 body. */
  check(token: string | undefined): { ok: true; info: AccessTokenInfo } | { ok: false; body: { code: number; message: string } } {
    const info = token ? this.access.get(token) : undefined;
    if (!info || info.revoked) return { ok: false, body: invalidTokenBody(false) };
    if (info.expiresAt <= Date.now()) return { ok: false, body: invalidTokenBody(true) };
    return { ok: true, info };
  }

  expireAccessTokens(): void {
    for (const a of this.access.values()) a.expiresAt = Math.min(a.expiresAt, Date.now());
  }
}
