import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { IncomingMessage } from 'node:http';
import { authenticateApiKey, readApiKey } from '../../../common/auth/api-key.guard';
import { ApiKeyEntry } from '../../../config/api-keys';
import { AppConfig } from '../../../config/app.config';
import { LivePrincipal } from './live-client';
import { LiveTickets } from './live-tickets.service';

/**
 * Who may open a live connection: an API key (x-api-key or Bearer), or else a
 * single-use `?ticket=`. A request that carries a wrong key is refused even with a
 * ticket, so a typo never silently falls back. Every key role may read live data; an
 * owner-scoped key (or its ticket) sees only its owner's sessions.
 */
@Injectable()
export class LiveAuth {
  private readonly logger = new Logger(LiveAuth.name);
  private readonly apiKeys: readonly ApiKeyEntry[];

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly tickets: LiveTickets,
  ) {
    this.apiKeys = config.get('auth', { infer: true }).apiKeys;
  }

  /** The principal, or null for a 401 (the log line says which check failed). */
  async authenticate(req: Pick<IncomingMessage, 'headers'>, ticket: string | null): Promise<LivePrincipal | null> {
    const read = readApiKey(req);
    if (read.key !== undefined) {
      const result = authenticateApiKey(read, this.apiKeys);
      if (!result.key) {
        this.logger.warn(`Live connection refused: ${result.problem}`);
        return null;
      }
      return { keyFingerprint: result.key.fingerprint, sessionIds: null, owner: result.key.owner };
    }
    if (!ticket) {
      this.logger.warn(`Live connection refused: ${read.problem} and no ?ticket=`);
      return null;
    }
    const principal = await this.tickets.redeem(ticket);
    if (!principal) this.logger.warn('Live connection refused: the ticket is unknown, expired or used');
    return principal;
  }
}
