import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { TokenCipher } from '../../common/crypto/token-cipher';
import { REDIS_CLIENT } from '../../common/redis/redis.module';
import { AppConfig } from '../../config/app.config';
import { UserGrant, UserGrantStore } from '../../zoom/auth/user-grant-store';
import { ZoomTokenSet } from '../../zoom/auth/zoom-oauth.client';
import { ConnectionStatus, OAuthConnectionEntity } from './entities/oauth-connection.entity';
import { ConnectionNotFoundError, OAuthConnectionsService } from './oauth-connections.service';

/**
 * How long a refreshed pair whose save failed is kept for the next refresh. Zoom's refresh
 * tokens live far longer; an outage of the database longer than this loses the connection
 * (the user consents again), as it would have without the stash.
 */
const STASH_TTL_SEC = 7 * 24 * 3600;

type RefreshedPair = ZoomTokenSet & { refreshToken: string };

/** The vault's side of the Zoom token provider: grants are oauth_connections rows. */
@Injectable()
export class OAuthUserGrantStore extends UserGrantStore {
  private readonly stashPrefix: string;

  constructor(
    private readonly connections: OAuthConnectionsService,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly cipher: TokenCipher,
    config: ConfigService<AppConfig, true>,
  ) {
    super();
    this.stashPrefix = `${config.get('queues', { infer: true }).prefix}:oauth:refreshed-pending:`;
  }

  /** Sealed with the key ring, bound to the connection and the grant version it replaces. */
  async stashRefreshed(grant: UserGrant, tokens: RefreshedPair): Promise<void> {
    const sealed = this.cipher.encrypt(JSON.stringify(tokens), stashAad(grant));
    await this.redis.set(this.stashPrefix + grant.connectionId, JSON.stringify({ version: grant.version, sealed }), 'EX', STASH_TTL_SEC);
  }

  async findStashed(grant: UserGrant): Promise<RefreshedPair | null> {
    const raw = await this.redis.get(this.stashPrefix + grant.connectionId);
    if (!raw) return null;
    const stash = JSON.parse(raw) as { version: number; sealed: string };
    // Stashed for another version: the stored grant moved on (a re-consent); it is stale.
    if (stash.version !== grant.version) return null;
    return JSON.parse(this.cipher.decrypt(stash.sealed, stashAad(grant))) as RefreshedPair;
  }

  async clearStashed(grant: UserGrant): Promise<void> {
    await this.redis.del(this.stashPrefix + grant.connectionId);
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

const stashAad = (grant: UserGrant) => `oauth-refreshed-pending:${grant.connectionId}:${grant.version}`;
