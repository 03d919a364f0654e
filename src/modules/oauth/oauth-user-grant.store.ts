import { Injectable } from '@nestjs/common';
import { RefreshedPair, UserGrant, UserGrantStore } from '../../zoom/auth/user-grant-store';
import { ConnectionStatus, OAuthConnectionEntity } from './entities/oauth-connection.entity';
import { ConnectionNotFoundError, OAuthConnectionsService } from './oauth-connections.service';
import { RefreshedPairStash } from './refreshed-pair.stash';

/** The vault's side of the Zoom token provider: grants are oauth_connections rows. */
@Injectable()
export class OAuthUserGrantStore extends UserGrantStore {
  constructor(
    private readonly connections: OAuthConnectionsService,
    private readonly stash: RefreshedPairStash,
  ) {
    super();
  }

  stashRefreshed(grant: UserGrant, tokens: RefreshedPair): Promise<void> {
    return this.stash.put(grant.connectionId, grant.version, tokens);
  }

  findStashed(grant: UserGrant): Promise<RefreshedPair | null> {
    return this.stash.find(grant.connectionId, grant.version);
  }

  clearStashed(grant: UserGrant): Promise<void> {
    return this.stash.clear(grant.connectionId);
  }

  async find(connectionId: string): Promise<UserGrant | null> {
    const conn = await this.connections.find(connectionId);
    return conn ? this.toGrant(conn) : null;
  }

  notFound(connectionId: string): Error {
    return new ConnectionNotFoundError(connectionId);
  }

  async saveRefreshed(grant: UserGrant, tokens: RefreshedPair): Promise<UserGrant | null> {
    const conn = await this.connections.find(grant.connectionId);
    if (!conn) return null;
    // The version the caller read: storeRefreshed bumps from it.
    conn.tokenVersion = grant.version;
    try {
      return this.toGrant(await this.connections.storeRefreshed(conn, tokens));
    } catch (err) {
      // Deleted between the read and the write (a disconnect, app_deauthorized).
      if (err instanceof ConnectionNotFoundError) return null;
      throw err;
    }
  }

  markReauthorizationRequired(connectionId: string, reason: string): Promise<void> {
    return this.connections.markReauthorizationRequired(connectionId, reason);
  }

  private toGrant(conn: OAuthConnectionEntity): UserGrant {
    return {
      connectionId: conn.id,
      active: conn.status === ConnectionStatus.Active,
      expiresAt: conn.expiresAt,
      version: conn.tokenVersion,
      accessToken: () => this.connections.openAccessToken(conn),
      refreshToken: () => this.connections.openRefreshToken(conn),
    };
  }
}
