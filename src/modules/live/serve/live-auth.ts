import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { IncomingMessage } from 'node:http';
import { apiKeyFrom } from '../../../common/auth/api-key.guard';
import { matchesAny } from '../../../common/auth/safe-compare';
import { AppConfig } from '../../../config/app.config';
import { LivePrincipal } from './live-client';
import { keyFingerprint, LiveTickets } from './live-tickets.service';

/**
 * Who may open a live connection: an API key (x-api-key or Bearer), or else a
 * single-use `?ticket=`. A request that carries a wrong key is refused even with a
 * ticket, so a typo never silently falls back.
 */
@Injectable()
export class LiveAuth {
  private readonly apiKeys: readonly string[];

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly tickets: LiveTickets,
  ) {
    this.apiKeys = config.get('auth', { infer: true }).apiKeys;
  }

  /** The principal, or null for a 401. */
  async authenticate(req: Pick<IncomingMessage, 'headers'>, ticket: string | null): Promise<LivePrincipal | null> {
    const key = apiKeyFrom(req);
    if (key !== undefined) return this.apiKeys.length > 0 && matchesAny(key, this.apiKeys) ? { keyFingerprint: keyFingerprint(key), sessionIds: null } : null;
    return ticket ? this.tickets.redeem(ticket) : null;
  }
}
