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

/** A pair Zoom answered a refresh with: it always has a refresh token (the rotated one). */
export type RefreshedPair = ZoomTokenSet & { refreshToken: string };

/**
 * Where user grants are kept. The Zoom layer refreshes tokens but does not own their
 * storage: the oauth module (the encrypted vault) implements this and provides it.
 */
export abstract class UserGrantStore {
  /** The grant, or null when the connection does not exist. */
  abstract find(connectionId: string): Promise<UserGrant | null>;
  /** The error to throw for a connection that does not exist (the owner's 404). */
  abstract notFound(connectionId: string): Error;
  /**
   * Stores a refreshed pair (Zoom rotates the refresh token) and returns the new grant
   * (or the newer one stored meanwhile, when `grant.version` went stale). Null when the
   * connection no longer exists (deleted meanwhile): the pair has nowhere to go.
   */
  abstract saveRefreshed(grant: UserGrant, tokens: RefreshedPair): Promise<UserGrant | null>;
  abstract markReauthorizationRequired(connectionId: string, reason: string): Promise<void>;
  /**
   * Keeps a refreshed pair outside the database, sealed, until it is stored: written as
   * soon as Zoom answers, because Zoom has then rotated the refresh token and the one
   * stored is spent. A refresh of the same grant version that finds it (the save failed,
   * or its lease was lost) stores it instead of asking Zoom again.
   */
  abstract stashRefreshed(grant: UserGrant, tokens: RefreshedPair): Promise<void>;
  /** The pair stashed for this grant version, if any (with its `issuedAt`). */
  abstract findStashed(grant: UserGrant): Promise<RefreshedPair | null>;
  abstract clearStashed(grant: UserGrant): Promise<void>;
}
