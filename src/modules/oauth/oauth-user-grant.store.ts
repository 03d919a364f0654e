import { Injectable } from '@nestjs/common';
import { UserGrant, UserGrantStore } from '../../zoom/auth/user-grant-store';
import { ZoomTokenSet } from '../../zoom/auth/zoom-oauth.client';
import { ConnectionStatus, OAuthConnectionEntity } from './entities/oauth-connection.entity';
import { ConnectionNotFoundError, OAuthConnectionsService } from './oauth-connections.service';

/** The vault's side of the Zoom token provider: grants are oauth_connections rows. */
@Injectable()
export class OAuthUserGrantStore extends UserGrantStore {
  constructor(private readonly connections: OAuthConnectionsService) {
    super();
  }

  async find(connectionId: string): Promise<UserGrant | null> {
    const conn = await this.connections.find(connectionId);
    return conn ? this.toGrant(conn) : null;
  }

  notFound(connectionId: string): Error {
    return new ConnectionNotFoundError(connectionId);
  }

  async saveRefreshed(grant: UserGrant, tokens: ZoomTokenSet & { refreshToken: string }): Promise<UserGrant> {
    const conn = await this.connections.get(grant.connectionId);
    // The version the caller read: storeRefreshed bumps from it.
    conn.tokenVersion = grant.version;
    return this.toGrant(await this.connections.storeRefreshed(conn, tokens));
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
