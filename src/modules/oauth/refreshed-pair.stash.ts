import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { TokenCipher } from '../../common/crypto/token-cipher';
import { REDIS_CLIENT } from '../../common/redis/redis.module';
import { AppConfig } from '../../config/app.config';
import { RefreshedPair } from '../../zoom/auth/user-grant-store';

/**
 * How long a refreshed pair that was not stored is kept for the next refresh. Zoom's refresh
 * tokens live far longer; an outage of the database longer than this loses the connection
 * (the user consents again), as it would have without the stash.
 */
const STASH_TTL_SEC = 7 * 24 * 3600;

/**
 * Refreshed token pairs not stored yet, one per connection, in Redis: sealed with the key
 * ring and bound to the connection and the token version they replace. Written as soon as
 * Zoom answers a refresh and cleared once the pair is stored, or when the connection goes.
 */
@Injectable()
export class RefreshedPairStash {
  private readonly prefix: string;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly cipher: TokenCipher,
    config: ConfigService<AppConfig, true>,
  ) {
    this.prefix = `${config.get('queues', { infer: true }).prefix}:oauth:refreshed-pending:`;
  }

  async put(connectionId: string, version: number, tokens: RefreshedPair): Promise<void> {
    const pair: RefreshedPair = { ...tokens, issuedAt: tokens.issuedAt ?? Date.now() };
    const sealed = this.cipher.encrypt(JSON.stringify(pair), stashAad(connectionId, version));
    await this.redis.set(this.prefix + connectionId, JSON.stringify({ version, sealed }), 'EX', STASH_TTL_SEC);
  }

  /** The pair stashed over `version`; null when there is none, or it was stashed over another version (stale). */
  async find(connectionId: string, version: number): Promise<RefreshedPair | null> {
    const raw = await this.redis.get(this.prefix + connectionId);
    if (!raw) return null;
    const stash = JSON.parse(raw) as { version: number; sealed: string };
    if (stash.version !== version) return null;
    const pair = JSON.parse(this.cipher.decrypt(stash.sealed, stashAad(connectionId, version))) as RefreshedPair;
    // Stashed by an older release, without the time Zoom issued it: its access token may
    // be days old, so it counts as expired (the refresh token in it still works).
    if (typeof pair.issuedAt !== 'number') pair.issuedAt = Date.now() - pair.expiresInSec * 1000;
    return pair;
  }

  async clear(connectionId: string): Promise<void> {
    await this.redis.del(this.prefix + connectionId);
  }
}

const stashAad = (connectionId: string, version: number) => `oauth-refreshed-pending:${connectionId}:${version}`;
