import { Logger } from '@nestjs/common';
import { errorMessage } from '../../../common/errors/error-message';
import { ZoomOAuthClient } from '../../../zoom/auth/zoom-oauth.client';

/** A token is replaced this long (at most) before Zoom's expiry. */
const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;

interface CachedToken {
  token: string;
  expiresAt: number;
}

/**
 * The event WebSocket's `client_credentials` token: cached, fetched once for concurrent
 * callers, and refreshed ahead of expiry while `shouldRefresh()` says it is still needed.
 */
export class EventWsTokenCache {
  private token?: CachedToken;
  private inflight?: Promise<string>;
  private refreshTimer?: NodeJS.Timeout;

  constructor(
    private readonly oauth: ZoomOAuthClient,
    private readonly credentials: { clientId: string; clientSecret: string },
    private readonly shouldRefresh: () => boolean,
    private readonly logger: Logger,
  ) {}

  async get(): Promise<string> {
    const t = this.token;
    if (t && t.expiresAt - Date.now() > Math.min(TOKEN_REFRESH_MARGIN_MS, 30_000)) return t.token;
    if (!this.inflight) this.inflight = this.fetch().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  /** Forgets the token (Zoom refused it); the next get() fetches a new one. */
  invalidate(): void {
    this.token = undefined;
  }

  cancelRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  private async fetch(): Promise<string> {
    const set = await this.oauth.clientCredentials(this.credentials);
    const lifetimeMs = set.expiresInSec * 1000;
    this.token = { token: set.accessToken, expiresAt: Date.now() + lifetimeMs };
    // Refresh ahead: 5 min before expiry, or at 90 % of a short lifetime.
    const refreshIn = Math.max(1000, lifetimeMs - Math.min(TOKEN_REFRESH_MARGIN_MS, lifetimeMs / 10));
    this.cancelRefresh();
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      if (!this.shouldRefresh()) return;
      this.fetch().then(
        () => this.logger.log('Refreshed the event WebSocket token before expiry'),
        (err: unknown) => this.logger.warn(`Event WebSocket token refresh failed (will fetch on the next connect): ${errorMessage(err)}`),
      );
    }, refreshIn);
    this.logger.log(`Fetched a client_credentials token for the event WebSocket (expires in ${set.expiresInSec} s)`);
    return set.accessToken;
  }
}
