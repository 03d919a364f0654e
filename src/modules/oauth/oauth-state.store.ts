import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Redis from 'ioredis';
import { REDIS_CLIENT } from '../../common/redis/redis.module';
import { AppConfig } from '../../config/app.config';
import { TokenCipher } from '../../common/crypto/token-cipher';

/** What an authorize request leaves for its callback. */
export interface PendingAuthorization {
  codeVerifier: string;
  /** sha256 prefix of the API key that started it. */
  ownerKeyFingerprint: string | null;
  /** Owner tag of that key (absent in states written before owner tags existed). */
  owner?: string | null;
  appUserId: string | null;
  redirectAfter: string | null;
  createdAt: number;
}

const STATE_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** PKCE S256: base64url(sha256(verifier)), no padding (RFC 7636). */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/**
 * Single-use OAuth `state` values in Redis with a TTL. The key is a hash of the state
 * (the state itself never sits in Redis) and the record, which holds the PKCE verifier,
 * is encrypted. GETDEL makes consumption atomic: a replay finds nothing.
 */
@Injectable()
export class OAuthStateStore {
  private readonly prefix: string;
  private readonly ttlSec: number;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly cipher: TokenCipher,
    config: ConfigService<AppConfig, true>,
  ) {
    this.prefix = `${config.get('queues', { infer: true }).prefix}:oauth:state:`;
    this.ttlSec = config.get('oauth', { infer: true }).stateTtlSec;
  }

  /** Redis key of a state (exported for tests that expire a state on purpose). */
  keyOf(state: string): string {
    return this.prefix + createHash('sha256').update(state, 'utf8').digest('hex');
  }

  async create(pending: Omit<PendingAuthorization, 'createdAt'>): Promise<string> {
    const state = randomBytes(32).toString('base64url');
    const key = this.keyOf(state);
    const record: PendingAuthorization = { ...pending, createdAt: Date.now() };
    await this.redis.set(key, this.cipher.encrypt(JSON.stringify(record), key), 'EX', this.ttlSec, 'NX');
    return state;
  }

  /** Returns and deletes the pending authorization, or null when unknown/expired/used. */
  async consume(state: string | undefined): Promise<PendingAuthorization | null> {
    if (!state || !STATE_FORMAT.test(state)) return null;
    const key = this.keyOf(state);
    const raw = await this.redis.getdel(key);
    if (!raw) return null;
    try {
      const record = JSON.parse(this.cipher.decrypt(raw, key)) as PendingAuthorization;
      if (Date.now() - record.createdAt > this.ttlSec * 1000) return null;
      return record;
    } catch {
      return null;
    }
  }
}
