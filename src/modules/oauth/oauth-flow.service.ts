import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../config/app.config';
import { OAuthConnectionEntity } from './entities/oauth-connection.entity';
import { OAuthConnectionsService } from './oauth-connections.service';
import { OAuthStateStore, pkceChallenge } from './oauth-state.store';
import { isRedirectAllowed } from './redirect-allowlist';
import { ZoomGrantRefusedError, ZoomOAuthClient } from '../../zoom/auth/zoom-oauth.client';
import { OAuthError } from './oauth.errors';
import { OAuthErrorCode } from '../../common/errors/error-codes';

export interface AuthorizeInput {
  /** The API key that starts it: its fingerprint and owner tag go on the connection. */
  caller?: { fingerprint: string; owner: string | null };
  appUserId?: string;
  redirectAfter?: string;
}

export interface CallbackInput {
  code?: string;
  state?: string;
  error?: string;
}

export interface CallbackResult {
  connection: OAuthConnectionEntity;
  /** Where to send the browser next (an allow-listed redirect_after), if any. */
  redirectTo?: string;
}

/** Authorization-code flow with single-use state and PKCE S256 (rtms-protocol.md §5). */
@Injectable()
export class OAuthFlowService {
  private readonly logger = new Logger(OAuthFlowService.name);

  constructor(
    private readonly states: OAuthStateStore,
    private readonly zoom: ZoomOAuthClient,
    private readonly connections: OAuthConnectionsService,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  /** Zoom's authorize URL for a new, single-use state. */
  async authorize(input: AuthorizeInput): Promise<string> {
    this.zoom.userApp(); // 503 before anything is stored when the app is not configured
    if (input.redirectAfter !== undefined && !isRedirectAllowed(input.redirectAfter, this.config.get('oauth', { infer: true }).redirectAllowlist)) {
      throw new OAuthError(OAuthErrorCode.RedirectNotAllowed, 'redirect_after is not on OAUTH_REDIRECT_ALLOWLIST');
    }
    const codeVerifier = randomBytes(32).toString('base64url');
    const state = await this.states.create({
      codeVerifier,
      ownerKeyFingerprint: input.caller?.fingerprint ?? null,
      owner: input.caller?.owner ?? null,
      appUserId: input.appUserId ?? null,
      redirectAfter: input.redirectAfter ?? null,
    });
    return this.zoom.authorizeUrl({ state, codeChallenge: pkceChallenge(codeVerifier) });
  }

  /**
   * Completes an authorization. The state is checked (and spent) before anything else,
   * so a missing, unknown, expired or replayed state stores nothing.
   */
  async callback(input: CallbackInput): Promise<CallbackResult> {
    const pending = await this.states.consume(input.state);
    if (!pending) {
      throw new OAuthError(OAuthErrorCode.InvalidOAuthState, 'The OAuth state is missing, unknown, expired or already used; start again at /oauth/zoom/authorize');
    }
    if (input.error) {
      throw new OAuthError(OAuthErrorCode.OAuthDenied, `Zoom did not authorize the hub (${input.error.slice(0, 64)})`);
    }
    if (!input.code) throw new OAuthError(OAuthErrorCode.MissingCode, 'The callback has no authorization code');

    let tokens;
    try {
      tokens = await this.zoom.exchangeCode(input.code, pending.codeVerifier);
    } catch (err) {
      if (err instanceof ZoomGrantRefusedError) {
        throw new OAuthError(OAuthErrorCode.InvalidAuthorizationCode, `Zoom refused the authorization code (${err.zoomCode ?? err.httpStatus}: ${err.zoomMessage})`);
      }
      throw err;
    }
    // No refresh_token check here: exchangeCode already answers that with 502
    // zoom_request_failed (Zoom's fault, not the caller's), so `tokens` always has one.
    const user = await this.zoom.getMe(tokens.accessToken);
    const connection = await this.connections.storeAuthorized({
      user,
      tokens,
      ownerKeyFingerprint: pending.ownerKeyFingerprint,
      owner: pending.owner ?? null,
      appUserId: pending.appUserId,
    });
    this.logger.log(`Zoom user connected (connection ${connection.id})`);
    let redirectTo: string | undefined;
    if (pending.redirectAfter) {
      const url = new URL(pending.redirectAfter);
      url.searchParams.set('oauth_status', 'connected');
      url.searchParams.set('connection_id', connection.id);
      redirectTo = url.toString();
    }
    return { connection, redirectTo };
  }
}
