import { Injectable, Logger, Optional } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { IncomingMessage } from 'node:http';
import { authenticateApiKey, readApiKey } from '../../../common/auth/api-key.guard';
import { consoleFingerprint, consoleRequestRefusal, readConsoleCookie } from '../../../common/auth/console-session';
import { ConsoleSessions } from '../../../common/auth/console-sessions.service';
import { ApiKeyEntry } from '../../../config/api-keys';
import { AppConfig } from '../../../config/app.config';
import { LivePrincipal } from './live-client';
import { LiveTickets } from './live-tickets.service';

/**
 * Who may open a live connection: an API key (x-api-key or Bearer), or else a
 * single-use `?ticket=`. A request that carries a wrong key is refused even with a
 * ticket, so a typo never silently falls back. Every key role may read live data; an
 * owner-scoped key (or its ticket) sees only its owner's sessions. Without a key or a
 * ticket, the session console's cookie (an unscoped admin) is accepted from the hub's own
 * origin only: `Origin`, which browsers always send on WebSocket upgrades, must be the hub.
 */
@Injectable()
export class LiveAuth {
  private readonly logger = new Logger(LiveAuth.name);
  private readonly apiKeys: readonly ApiKeyEntry[];

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly tickets: LiveTickets,
    @Optional() private readonly consoleSessions?: ConsoleSessions,
  ) {
    this.apiKeys = config.get('auth', { infer: true }).apiKeys;
  }

  /** The principal, or null for a 401 (the log line says which check failed). */
  async authenticate(req: Pick<IncomingMessage, 'headers'>, ticket: string | null, origin: string | null = null): Promise<LivePrincipal | null> {
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
      const consoleId = this.consoleSessions ? readConsoleCookie(req.headers) : null;
      if (consoleId !== null) return this.consolePrincipal(req, consoleId, origin);
      this.logger.warn(`Live connection refused: ${read.problem} and no ?ticket=`);
      return null;
    }
    const principal = await this.tickets.redeem(ticket);
    if (!principal) this.logger.warn('Live connection refused: the ticket is unknown, expired or used');
    return principal;
  }

  /**
   * The console login as a principal. Checked without renewing its idle expiry (a live
   * connection does not keep a login alive: the console's page and REST requests do, and
   * send the cookie again), and re-checked on every ping by LiveClientWatch through
   * `stillValid`, so a connection ends with the login (sign-out or idle expiry).
   */
  private async consolePrincipal(req: Pick<IncomingMessage, 'headers'>, id: string, origin: string | null): Promise<LivePrincipal | null> {
    const sessions = this.consoleSessions!;
    const session = await sessions.peek(id);
    if (!session) {
      this.logger.warn('Live connection refused: unknown or expired console session');
      return null;
    }
    const fingerprint = consoleFingerprint(id);
    const refusal = consoleRequestRefusal({ method: 'GET', headers: req.headers, origin }, session.csrf);
    if (refusal) {
      this.logger.warn(`Live connection refused: console session ${fingerprint}: ${refusal}`);
      return null;
    }
    return { keyFingerprint: fingerprint, sessionIds: null, owner: null, stillValid: async () => (await sessions.peek(id)) !== null };
  }
}
