import { ZoomTokenSet } from './zoom-oauth.client';

/** One user's stored Zoom grant, as the token provider needs it. Tokens are opened on demand. */
export interface UserGrant {
  connectionId: string;
  /** False once the grant needs the user to authorize again (or was revoked). */
  active: boolean;
  expiresAt: Date;
  /** Bumped by every refresh: tells whether another process rotated the tokens meanwhile. */
  version: number;
  accessToken(): string;
  refreshToken(): string;
}

/**
 * Where user grants are kept. The Zoom layer refreshes tokens but does not own their
 * storage: the oauth module (the encrypted vault) implements this and provides it.
 */
export abstract class UserGrantStore {
  /** The grant, or null when the connection does not exist. */
  abstract find(connectionId: string): Promise<UserGrant | null>;
  /** The error to throw for a connection that does not exist (the owner's 404). */
  abstract notFound(connectionId: string): Error;
  /** Stores a refreshed pair (Zoom rotates the refresh token) and returns the new grant. */
  abstract saveRefreshed(grant: UserGrant, tokens: ZoomTokenSet & { refreshToken: string }): Promise<UserGrant>;
  abstract markReauthorizationRequired(connectionId: string, reason: string): Promise<void>;
  /**
   * Keeps a refreshed pair whose save failed (Postgres away) outside the database, sealed,
   * for the next refresh of the same grant version to store instead of asking Zoom again:
   * Zoom has already rotated the refresh token, so the one stored is spent.
   */
  abstract stashRefreshed(grant: UserGrant, tokens: ZoomTokenSet & { refreshToken: string }): Promise<void>;
  /** The pair stashed for this grant version, if any. */
  abstract findStashed(grant: UserGrant): Promise<(ZoomTokenSet & { refreshToken: string }) | null>;
  abstract clearStashed(grant: UserGrant): Promise<void>;
}
