import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../common/redis/redis.module';
import { AppConfig } from '../../config/app.config';
import { RedisLock } from '../../common/redis/redis-lock';
import { sleep } from '../../common/async/sleep';
import { TokenCipher } from '../../common/crypto/token-cipher';
import { ZoomTransportError } from '../zoom-errors';
import { ZoomOAuthClient } from './zoom-oauth.client';

/** A cached S2S token is dropped this long before Zoom's expiry. */
export const S2S_EXPIRY_MARGIN_SEC = 60;
const LOCK_TTL_MS = 30_000;
const WAIT_FOR_OTHER_MS = 20_000;

interface CachedToken {
  token: string;
  expiresAt: number;
}

/**
 * Server-to-Server OAuth (`account_credentials`) access token for account-level calls
 * (Zoom Rooms, admin APIs). One token is cached in Redis, encrypted, for every process
 * until 60 s before it expires; fetching a new one is single-flight across processes.
 */
@Injectable()
export class ZoomS2sTokenService {
  private readonly logger = new Logger(ZoomS2sTokenService.name);
  private readonly lock: RedisLock;
  private readonly prefix: string;
  private inflight?: Promise<string>;

  constructor(
    private readonly zoom: ZoomOAuthClient,
    private readonly cipher: TokenCipher,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: ConfigService<AppConfig, true>,
  ) {
    this.lock = new RedisLock(redis);
    this.prefix = `${config.get('queues', { infer: true }).prefix}:oauth:s2s:`;
  }

  private cacheKey(): string {
    const app = this.zoom.s2sApp();
    return `${this.prefix}${app.accountId}:${app.clientId}`;
  }

  /** A valid account token (from the shared cache, or fetched once for everyone). */
  async getAccountToken(): Promise<string> {
    const key = this.cacheKey();
    const cached = await this.readCache(key);
    if (cached) return cached;
    if (!this.inflight) this.inflight = this.fetchSingleFlight(key).finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  /** Drops the cached token after Zoom answered 401 to it (only if it is still the cached one). */
  async invalidate(rejectedToken: string): Promise<void> {
    const key = this.cacheKey();
    if ((await this.readCache(key)) === rejectedToken) await this.redis.del(key);
  }

  private async fetchSingleFlight(key: string): Promise<string> {
    const lockKey = `${key}:lock`;
    const deadline = Date.now() + WAIT_FOR_OTHER_MS;
    for (;;) {
      const lease = await this.lock.acquire(lockKey, LOCK_TTL_MS);
      if (lease) {
        try {
          const cached = await this.readCache(key);
          if (cached) return cached;
          const tokens = await this.zoom.accountCredentials();
          const ttlSec = tokens.expiresInSec - S2S_EXPIRY_MARGIN_SEC;
          if (ttlSec > 0) {
            const entry: CachedToken = { token: tokens.accessToken, expiresAt: Date.now() + tokens.expiresInSec * 1000 };
            await this.redis.set(key, this.cipher.encrypt(JSON.stringify(entry), key), 'EX', ttlSec);
          }
          this.logger.log('Fetched a Server-to-Server OAuth token');
          return tokens.accessToken;
        } finally {
          await this.lock.release(lockKey, lease).catch(() => undefined);
        }
      }
      await sleep(40 + Math.floor(Math.random() * 40));
      const cached = await this.readCache(key);
      if (cached) return cached;
      if (Date.now() > deadline) throw new ZoomTransportError('account_credentials token', 'another process is still fetching it');
    }
  }

  private async readCache(key: string): Promise<string | undefined> {
    const raw = await this.redis.get(key);
    if (!raw) return undefined;
    try {
      const entry = JSON.parse(this.cipher.decrypt(raw, key)) as CachedToken;
      if (entry.expiresAt - Date.now() <= S2S_EXPIRY_MARGIN_SEC * 1000) return undefined;
      return entry.token;
    } catch {
      // Sealed with a key that has since left the ring, or corrupt: fetch a new one.
      return undefined;
    }
  }
}
