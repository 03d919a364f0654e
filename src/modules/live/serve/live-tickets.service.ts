import { Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import Redis from 'ioredis';
import { createHash, randomBytes } from 'node:crypto';
import type { ApiCaller } from '../../../common/auth/api-caller';
import { REDIS_CLIENT } from '../../../common/redis/redis.module';
import { errorMessage } from '../../../common/errors/error-message';
import { isRecord } from '../../../common/types/is-record';
import { LivePrincipal } from './live-client';
import { LiveSettings } from './live-settings';

/** What Redis keeps for a ticket (never the ticket or the key themselves). */
interface StoredTicket {
  key_fingerprint: string;
  session_ids?: string[];
  owner?: string;
}

export interface IssuedTicket {
  ticket: string;
  expiresAt: Date;
}

export { keyFingerprint } from '../../../config/api-keys';

function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/**
 * Single-use browser tickets: a browser cannot set headers on a WebSocket or an
 * EventSource, so an app exchanges its API key for a short-lived ticket it can put in
 * the URL. Redis keeps only the ticket's hash; redeeming deletes it (GETDEL).
 */
@Injectable()
export class LiveTickets {
  private readonly logger = new Logger(LiveTickets.name);

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly settings: LiveSettings,
  ) {}

  /** A ticket that opens live connections as `key` (its owner tag included), for `sessionIds` or any. */
  async issue(key: Pick<ApiCaller, 'fingerprint' | 'owner'>, sessionIds: readonly string[] | null): Promise<IssuedTicket> {
    const ticket = randomBytes(32).toString('base64url');
    const stored: StoredTicket = {
      key_fingerprint: key.fingerprint,
      ...(sessionIds ? { session_ids: [...sessionIds] } : {}),
      ...(key.owner !== null ? { owner: key.owner } : {}),
    };
    const ttl = this.settings.config.ticketTtlSec;
    try {
      await this.redis.set(this.settings.keys.ticket(sha256Hex(ticket)), JSON.stringify(stored), 'EX', ttl);
    } catch (err) {
      // 503 as the live endpoints answer when they cannot redeem one, not a 500: try again.
      this.logger.warn(`Issuing a live ticket failed: ${errorMessage(err)}`);
      throw new ServiceUnavailableException({ code: 'service_unavailable', message: 'Live tickets cannot be issued right now (Redis is unreachable): try again' });
    }
    return { ticket, expiresAt: new Date(Date.now() + ttl * 1000) };
  }

  /** The ticket's principal, or null when it is unknown, expired or used. It cannot be redeemed again. */
  async redeem(ticket: string): Promise<LivePrincipal | null> {
    if (ticket.length === 0 || ticket.length > 256) return null;
    const raw = await this.redis.getdel(this.settings.keys.ticket(sha256Hex(ticket)));
    return raw === null ? null : principalOf(raw);
  }
}

/** The stored JSON as a principal (null if it is not one of ours). */
export function principalOf(raw: string): LivePrincipal | null {
  let stored: unknown;
  try {
    stored = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isRecord(stored) || typeof stored.key_fingerprint !== 'string') return null;
  const ids = Array.isArray(stored.session_ids) ? stored.session_ids.filter((s): s is string => typeof s === 'string') : null;
  return { keyFingerprint: stored.key_fingerprint, sessionIds: ids ? new Set(ids) : null, owner: typeof stored.owner === 'string' ? stored.owner : null };
}
