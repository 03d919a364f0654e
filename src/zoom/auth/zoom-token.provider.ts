import { Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import { MetricsService } from '../../common/metrics/metrics.service';
import { sleep } from '../../common/async/sleep';
import { RefreshLease } from './refresh-lease';
import { ReauthorizationRequiredError, ZoomTransportError } from '../zoom-errors';
import { UserGrant, UserGrantStore } from './user-grant-store';
import { ZoomGrantRefusedError, ZoomOAuthClient, ZoomTokenSet } from './zoom-oauth.client';
import { errorMessage } from '../../common/errors/error-message';

/** The proactive `token.refresh` job runs this long before an access token expires. */
export const PROACTIVE_REFRESH_BEFORE_MS = 10 * 60_000;
/** An access token with less than this left is refreshed before it is handed out. */
export const REFRESH_WHEN_REMAINING_MS = 5 * 60_000;
/** Tries at storing a refreshed pair before it is stashed, a short pause apart (a database failover, a pool timeout). */
const SAVE_ATTEMPTS = 3;
const SAVE_RETRY_MS = 200;

export interface AccessTokenOptions {
  /** A token Zoom just answered 401 to: refresh unless the stored token already differs. */
  rejectedToken?: string;
}

/**
 * Hands out valid user access tokens. A token close to expiry is refreshed exactly once
 * across every process: a Redis lease per connection elects one refresher, the others
 * wait for the row to change. This matters because Zoom rotates refresh tokens: two
 * refreshes with the same refresh token would lose the connection (4735).
 */
@Injectable()
export class ZoomTokenProvider {
  private readonly logger = new Logger(ZoomTokenProvider.name);
  private readonly inflight = new Map<string, Promise<string>>();
  /** How long a caller waits for another process's refresh before giving up (retryable). */
  private readonly waitForOtherMs: number;
  private readonly refreshes: Counter<'outcome'>;

  constructor(
    private readonly grants: UserGrantStore,
    private readonly zoom: ZoomOAuthClient,
    private readonly lease: RefreshLease,
    metrics: MetricsService,
  ) {
    this.waitForOtherMs = lease.ttlMs;
    this.refreshes = metrics.counter({
      name: 'rtms_hub_oauth_token_refreshes_total',
      help: 'User OAuth token refreshes by outcome (ok, refused, transport_error, error)',
      labelNames: ['outcome'],
    });
  }

  /** A valid access token for the connection (refreshing it first when needed). */
  async getAccessToken(connectionId: string, opts: AccessTokenOptions = {}): Promise<string> {
    const grant = await this.loadActive(connectionId);
    const token = grant.accessToken();
    if (remainingMs(grant) >= REFRESH_WHEN_REMAINING_MS && token !== opts.rejectedToken) return token;
    return this.refreshSingleFlight(connectionId, REFRESH_WHEN_REMAINING_MS, opts.rejectedToken);
  }

  /**
   * For the proactive `token.refresh` job: refreshes when the token is inside the
   * proactive window. Returns false when nothing was due (or the connection is gone).
   */
  async refreshIfDue(connectionId: string): Promise<boolean> {
    const grant = await this.grants.find(connectionId);
    if (!grant || !grant.active) return false;
    const window = PROACTIVE_REFRESH_BEFORE_MS + 60_000;
    if (remainingMs(grant) >= window) return false;
    await this.refreshSingleFlight(connectionId, window);
    return true;
  }

  private refreshSingleFlight(connectionId: string, windowMs: number, rejected?: string): Promise<string> {
    // Callers in this process share one attempt; across processes the Redis lease decides.
    let pending = this.inflight.get(connectionId);
    if (!pending) {
      pending = this.refreshAcrossProcesses(connectionId, windowMs, rejected).finally(() => this.inflight.delete(connectionId));
      this.inflight.set(connectionId, pending);
    }
    return pending;
  }

  private async refreshAcrossProcesses(connectionId: string, windowMs: number, rejected?: string): Promise<string> {
    const deadline = Date.now() + this.waitForOtherMs;
    for (;;) {
      const lease = await this.lease.acquire(connectionId);
      if (lease) {
        try {
          // Someone may have refreshed between our read and the lease.
          const grant = await this.loadActive(connectionId);
          const current = grant.accessToken();
          if (remainingMs(grant) >= windowMs && current !== rejected) return current;
          return await this.refresh(grant);
        } finally {
          await this.lease.release(connectionId, lease);
        }
      }
      await sleep(40 + Math.floor(Math.random() * 40));
      const grant = await this.loadActive(connectionId);
      const current = grant.accessToken();
      if (remainingMs(grant) >= windowMs && current !== rejected) return current;
      if (Date.now() > deadline) {
        throw new ZoomTransportError('token refresh', 'another process is still refreshing this connection');
      }
    }
  }

  private async refresh(grant: UserGrant): Promise<string> {
    try {
      // A pair an earlier refresh got from Zoom but could not save: Zoom has rotated the
      // stored refresh token already, so that pair, not a new call, is what is stored.
      const stashed = await this.grants.findStashed(grant).catch((err: unknown) => {
        this.logger.warn(`Connection ${grant.connectionId}: could not read a stashed token pair (${errorMessage(err)}); asking Zoom`);
        return null;
      });
      const fresh = stashed ?? (await this.zoom.refresh(grant.refreshToken()));
      if (!fresh.refreshToken) throw new ZoomTransportError('token refresh', 'response lacks refresh_token');
      const tokens = { ...fresh, refreshToken: fresh.refreshToken };
      const saved = await this.save(grant, tokens, stashed !== null);
      this.refreshes.inc({ outcome: 'ok' });
      this.logger.log(`Refreshed the access token of connection ${grant.connectionId}${stashed ? ' (with the pair stashed when its save failed)' : ''}`);
      return saved.accessToken();
    } catch (err) {
      if (err instanceof ZoomGrantRefusedError) {
        // A lease that lapsed could let another process rotate first; its result wins.
        const again = await this.grants.find(grant.connectionId);
        if (again && again.active && again.version !== grant.version) return again.accessToken();
        const reason = `Zoom refused the refresh token (HTTP ${err.httpStatus}${err.zoomCode !== undefined ? `, code ${err.zoomCode}` : ''}: ${err.zoomMessage})`;
        await this.grants.markReauthorizationRequired(grant.connectionId, reason);
        this.refreshes.inc({ outcome: 'refused' });
        this.logger.warn(`Connection ${grant.connectionId} needs reauthorization: ${reason}`);
        throw new ReauthorizationRequiredError(grant.connectionId);
      }
      this.refreshes.inc({ outcome: err instanceof ZoomTransportError ? 'transport_error' : 'error' });
      throw err;
    }
  }

  /**
   * Stores a refreshed pair, trying a few times; when that still fails (Postgres away) the
   * pair is stashed (sealed, in Redis) for the next refresh, so the rotated refresh token
   * is not lost with this error — losing it would cost the user a new consent.
   */
  private async save(grant: UserGrant, tokens: ZoomTokenSet & { refreshToken: string }, fromStash: boolean): Promise<UserGrant> {
    let lastError: unknown;
    for (let attempt = 0; attempt < SAVE_ATTEMPTS; attempt++) {
      if (attempt > 0) await sleep(SAVE_RETRY_MS * attempt);
      try {
        const saved = await this.grants.saveRefreshed(grant, tokens);
        if (fromStash) await this.grants.clearStashed(grant).catch(() => undefined); // the version moved on: it is never read again
        return saved;
      } catch (err) {
        lastError = err;
      }
    }
    if (!fromStash) {
      await this.grants.stashRefreshed(grant, tokens).then(
        () => this.logger.error(`Connection ${grant.connectionId}: the refreshed tokens could not be saved (${errorMessage(lastError)}); kept sealed in Redis for the next refresh`),
        (err: unknown) => this.logger.error(`Connection ${grant.connectionId}: the refreshed tokens could be neither saved (${errorMessage(lastError)}) nor stashed (${errorMessage(err)}); the connection will need a new consent`),
      );
    }
    throw lastError;
  }

  private async loadActive(connectionId: string): Promise<UserGrant> {
    const grant = await this.grants.find(connectionId);
    if (!grant) throw this.grants.notFound(connectionId);
    if (!grant.active) throw new ReauthorizationRequiredError(connectionId);
    return grant;
  }
}

function remainingMs(grant: UserGrant): number {
  return grant.expiresAt.getTime() - Date.now();
}
