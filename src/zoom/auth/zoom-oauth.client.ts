import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../config/app.config';
import { ZoomHttpClient, ZoomResponse, retryAfterSeconds, zoomErrorOf } from '../http/zoom-http.client';
import { ZoomNotConfiguredError, ZoomRequestError, ZoomTransportError } from '../zoom-errors';

/** What Zoom's token endpoint returns. */
export interface ZoomTokenSet {
  accessToken: string;
  /** Absent for S2S (account_credentials) tokens. */
  refreshToken?: string;
  expiresInSec: number;
  scope: string;
  /**
   * When the token was issued (ms since the epoch: just before the request that got it);
   * `expiresInSec` counts from here. A pair kept a while before it is stored (the stash)
   * expires when Zoom said, not `expiresInSec` after it was stored. Absent: now.
   */
  issuedAt?: number;
}

export interface ZoomUser {
  id: string;
  accountId: string;
  email: string | null;
  displayName: string | null;
}

/** Zoom said the grant is unusable (bad/used/revoked refresh token or code): 4733/4735/4741, invalid_grant. */
export class ZoomGrantRefusedError extends ZoomRequestError {}

const GRANT_REFUSED_CODES = new Set(['4733', '4735', '4741']);
/** A revoke answered with these says the token is already spent or revoked: 4735 invalid, 4741 revoked. */
const ALREADY_REVOKED_CODES = new Set(['4735', '4741']);

/** Zoom's OAuth endpoints (rtms-protocol.md §5) plus GET /users/me. */
@Injectable()
export class ZoomOAuthClient {
  constructor(
    private readonly http: ZoomHttpClient,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  private get zoom(): AppConfig['zoom'] {
    return this.config.get('zoom', { infer: true });
  }

  /** The user-OAuth app's credentials, or a 503 naming what is missing. */
  userApp(): { clientId: string; clientSecret: string; redirectUri: string } {
    const z = this.zoom;
    if (!z.clientId || !z.clientSecret || !z.redirectUri) {
      throw new ZoomNotConfiguredError('user OAuth (ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET, ZOOM_REDIRECT_URI)');
    }
    return { clientId: z.clientId, clientSecret: z.clientSecret, redirectUri: z.redirectUri };
  }

  s2sApp(): { clientId: string; clientSecret: string; accountId: string } {
    const z = this.zoom;
    if (!z.s2sClientId || !z.s2sClientSecret || !z.accountId) {
      throw new ZoomNotConfiguredError('Server-to-Server OAuth (ZOOM_S2S_CLIENT_ID, ZOOM_S2S_CLIENT_SECRET, ZOOM_ACCOUNT_ID)');
    }
    return { clientId: z.s2sClientId, clientSecret: z.s2sClientSecret, accountId: z.accountId };
  }

  authorizeUrl(params: { state: string; codeChallenge: string }): string {
    const app = this.userApp();
    const url = new URL(`${this.zoom.oauthBaseUrl}/oauth/authorize`);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', app.clientId);
    url.searchParams.set('redirect_uri', app.redirectUri);
    url.searchParams.set('state', params.state);
    url.searchParams.set('code_challenge', params.codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
    return url.toString();
  }

  /**
   * A token set without refresh_token is Zoom's fault, not the caller's: it throws
   * ZoomRequestError (502 zoom_request_failed), so the result always has one.
   */
  async exchangeCode(code: string, codeVerifier: string): Promise<ZoomTokenSet & { refreshToken: string }> {
    const app = this.userApp();
    const res = await this.tokenCall('authorization code exchange', { id: app.clientId, secret: app.clientSecret }, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: app.redirectUri,
      code_verifier: codeVerifier,
    });
    return this.tokenSet('authorization code exchange', res, true);
  }

  async refresh(refreshToken: string): Promise<ZoomTokenSet> {
    const app = this.userApp();
    const res = await this.tokenCall('token refresh', { id: app.clientId, secret: app.clientSecret }, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
    return this.tokenSet('token refresh', res, true);
  }

  async accountCredentials(): Promise<ZoomTokenSet> {
    const app = this.s2sApp();
    const res = await this.tokenCall('account_credentials token', { id: app.clientId, secret: app.clientSecret }, {
      grant_type: 'account_credentials',
      account_id: app.accountId,
    });
    return this.tokenSet('account_credentials token', res, false);
  }

  /**
   * A General app's `client_credentials` token (no refresh token; fetch a new one before
   * it expires), e.g. for Zoom's event WebSocket. The app is passed in because the event
   * WebSocket may use its own credentials.
   */
  async clientCredentials(app: { clientId: string; clientSecret: string }): Promise<ZoomTokenSet> {
    const res = await this.tokenCall('client_credentials token', { id: app.clientId, secret: app.clientSecret }, { grant_type: 'client_credentials' });
    return this.tokenSet('client_credentials token', res, false);
  }

  /**
   * Revokes a token (and with it the grant). Returns false when Zoom says the token is
   * already unknown/revoked (a 400 with invalid_grant, "Invalid Token" or code 4735/4741),
   * which for a disconnect is as good as success. Any other refusal — invalid_client after
   * the client secret was rotated, invalid_request — is a ZoomRequestError: the grant may
   * still be live, and its refresh token must not be thrown away.
   */
  async revoke(token: string): Promise<boolean> {
    const app = this.userApp();
    const res = await this.http.send({
      method: 'POST',
      url: `${this.zoom.oauthBaseUrl}/oauth/revoke`,
      operation: 'token revoke',
      basic: { id: app.clientId, secret: app.clientSecret },
      form: { token },
    });
    if (res.status >= 200 && res.status < 300) return true;
    this.throwIfTransient('token revoke', res);
    const e = zoomErrorOf(res.json);
    if (res.status === 400 && isAlreadyRevoked(e)) return false;
    throw new ZoomRequestError('token revoke', res.status, e.code, e.message);
  }

  async getMe(accessToken: string): Promise<ZoomUser> {
    const res = await this.http.send({ method: 'GET', url: `${this.zoom.apiBaseUrl}/users/me`, operation: 'user lookup', bearer: accessToken });
    this.throwIfTransient('user lookup', res);
    if (res.status !== 200 || typeof res.json !== 'object' || res.json === null) {
      const e = zoomErrorOf(res.json);
      throw new ZoomRequestError('user lookup', res.status, e.code, e.message);
    }
    const u = res.json as Record<string, unknown>;
    const id = typeof u.id === 'string' ? u.id : undefined;
    const accountId = typeof u.account_id === 'string' ? u.account_id : undefined;
    if (!id || !accountId) throw new ZoomRequestError('user lookup', res.status, undefined, 'response lacks id or account_id');
    const name = [u.first_name, u.last_name].filter((v): v is string => typeof v === 'string' && v.length > 0).join(' ');
    return {
      id,
      accountId,
      email: typeof u.email === 'string' ? u.email : null,
      displayName: typeof u.display_name === 'string' ? u.display_name : name || null,
    };
  }

  private async tokenCall(operation: string, basic: { id: string; secret: string }, form: Record<string, string>): Promise<ZoomResponse & { sentAt: number }> {
    const sentAt = Date.now();
    const res = await this.http.send({ method: 'POST', url: `${this.zoom.oauthBaseUrl}/oauth/token`, operation, basic, form });
    return { ...res, sentAt };
  }

  private throwIfTransient(operation: string, res: ZoomResponse): void {
    if (res.status === 429 || res.status >= 500) {
      const e = zoomErrorOf(res.json);
      throw new ZoomTransportError(operation, `HTTP ${res.status} ${e.message}`, res.status, retryAfterSeconds(res.headers));
    }
  }

  private tokenSet(operation: string, res: ZoomResponse & { sentAt: number }, expectRefresh: true): ZoomTokenSet & { refreshToken: string };
  private tokenSet(operation: string, res: ZoomResponse & { sentAt: number }, expectRefresh: false): ZoomTokenSet;
  private tokenSet(operation: string, res: ZoomResponse & { sentAt: number }, expectRefresh: boolean): ZoomTokenSet {
    this.throwIfTransient(operation, res);
    const body = (typeof res.json === 'object' && res.json !== null ? res.json : {}) as Record<string, unknown>;
    if (res.status !== 200 || typeof body.access_token !== 'string') {
      const e = zoomErrorOf(res.json);
      const refused = e.error === 'invalid_grant' || (e.code !== undefined && GRANT_REFUSED_CODES.has(String(e.code)));
      if (refused) throw new ZoomGrantRefusedError(operation, res.status, e.code, e.message);
      throw new ZoomRequestError(operation, res.status, e.code, e.message);
    }
    if (expectRefresh && typeof body.refresh_token !== 'string') {
      throw new ZoomRequestError(operation, res.status, undefined, 'response lacks refresh_token');
    }
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
    return {
      accessToken: body.access_token,
      refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : undefined,
      expiresInSec: expiresIn,
      scope: typeof body.scope === 'string' ? body.scope : '',
      issuedAt: res.sentAt,
    };
  }
}

function isAlreadyRevoked(e: ReturnType<typeof zoomErrorOf>): boolean {
  if (e.error === 'invalid_grant') return true;
  if (e.code !== undefined && ALREADY_REVOKED_CODES.has(String(e.code))) return true;
  return /^invalid token\b/i.test(e.message.trim());
}
