import { Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import { MetricsService } from '../../common/metrics/metrics.service';
import { sleep } from '../../common/async/sleep';
import { RefreshLease } from './refresh-lease';
import { ReauthorizationRequiredError, ZoomTransportError } from '../zoom-errors';
import { RefreshedPair, UserGrant, UserGrantStore } from './user-grant-store';
import { ZoomGrantRefusedError, ZoomOAuthClient } from './zoom-oauth.client';
import { errorMessage } from '../../common/errors/error-message';

/** The proactive `token.refresh` job runs this long before an access token expires. */
export const PROACTIVE_REFRESH_BEFORE_MS = 10 * 60_000;
/** An access token with less than this left is refreshed before it is handed out. */
export const REFRESH_WHEN_REMAINING_MS = 5 * 60_000;
/** Tries at storing a refreshed pair, a short pause apart (a database failover, a pool timeout); then it waits in the stash. */
const SAVE_ATTEMPTS = 3;
const SAVE_RETRY_MS = 200;

export interface AccessTokenOptions {
  /** A token Zoom just answered 401 to: refresh unless the stored token already differs. */
  rejectedToken?: string;
}

/** A pair to store over a grant version, and whether the stash holds it too. */
interface PairToStore {
  over: UserGrant;
  tokens: RefreshedPair;
  stashed: boolean;
  fromStash: boolean;
}

/**
 * Hands out valid user access tokens. A token close to expiry is refreshed exactly once
 * across every process: a Redis lease per connection, renewed while the refresh runs,
 * elects one refresher; the others wait for the row to change. This matters because Zoom
 * rotates refresh tokens: two refreshes with the same refresh token would lose the
 * connection (4735). The pair Zoom answers is stashed (sealed, in Redis) before it is
 * stored, so that a save that fails, or a refresher that loses its lease, never loses the
 * only live refresh token: the next refresh stores the stashed pair instead of asking Zoom.
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
      help: 'User OAuth token refreshes by outcome (ok, refused, gone, transport_error, error)',
      labelNames: ['outcome'],
    });
  }

  /** A valid access token for the connection (refreshing it first when needed). */
  async getAccessToken(connectionId: string, opts: AccessTokenOptions = {}): Promise<string> {
    const grant = await this.usable(connectionId);
    if (isFresh(grant, REFRESH_WHEN_REMAINING_MS, opts.rejectedToken)) return grant.accessToken();
    return this.refreshSingleFlight(connectionId, REFRESH_WHEN_REMAINING_MS, opts.rejectedToken);
  }

  /**
   * For the proactive `token.refresh` job: refreshes when the token is inside the
   * proactive window. Returns false when nothing was due (or the connection is gone).
   */
  async refreshIfDue(connectionId: string): Promise<boolean> {
    const grant = await this.grants.find(connectionId);
    if (!grant || (!grant.active && !(await this.readStash(grant)))) return false;
    const window = PROACTIVE_REFRESH_BEFORE_MS + 60_000;
    if (isFresh(grant, window)) return false;
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
      const lease = await this.lease.hold(connectionId);
      if (lease) {
        try {
          // Someone may have refreshed between our read and the lease.
          const grant = await this.usable(connectionId);
          if (isFresh(grant, windowMs, rejected)) return grant.accessToken();
          return await this.refresh(grant, lease.lost, windowMs, rejected);
        } finally {
          await lease.release();
        }
      }
      await sleep(40 + Math.floor(Math.random() * 40));
      const grant = await this.usable(connectionId);
      if (isFresh(grant, windowMs, rejected)) return grant.accessToken();
      if (Date.now() > deadline) {
        throw new ZoomTransportError('token refresh', 'another process is still refreshing this connection');
      }
    }
  }

  /** Under the lease: stores a stashed pair, or asks Zoom for a new one, and stores that. */
  private async refresh(grant: UserGrant, lost: AbortSignal, windowMs: number, rejected?: string): Promise<string> {
    let gone: Error | undefined;
    try {
      let current = grant;
      for (let round = 1; ; round++) {
        const pair = await this.nextPair(current, lost);
        if ('done' in pair) return pair.done.accessToken();
        const saved = 'gone' in pair ? null : await this.save(pair, lost);
        if (!saved || 'gone' in pair) {
          // Deleted meanwhile (a disconnect, app_deauthorized): nothing to retry, nothing to keep.
          this.refreshes.inc({ outcome: 'gone' });
          this.logger.log(`Connection ${grant.connectionId} was deleted while its token was being refreshed; nothing of the refresh was kept`);
          throw (gone = this.grants.notFound(grant.connectionId));
        }
        this.refreshes.inc({ outcome: 'ok' });
        this.logger.log(`Refreshed the access token of connection ${grant.connectionId}${pair.fromStash ? ' (with the pair stashed when it was not stored)' : ''}`);
        // A stashed pair may have been kept for days: its access token has run out, its
        // refresh token has not. One more round asks Zoom with it.
        if (!pair.fromStash || round > 1 || isFresh(saved, windowMs, rejected)) {
          if (!saved.active) throw new ReauthorizationRequiredError(grant.connectionId);
          return saved.accessToken();
        }
        current = saved;
      }
    } catch (err) {
      if (!(err instanceof ReauthorizationRequiredError) && err !== gone) {
        this.refreshes.inc({ outcome: err instanceof ZoomTransportError ? 'transport_error' : 'error' });
      }
      throw err;
    }
  }

  /**
   * The pair to store over `grant`: the stashed one (Zoom already rotated the stored
   * refresh token), else a new one from Zoom, stashed as soon as it arrives. `done` when
   * another process's refresh won meanwhile.
   */
  private async nextPair(grant: UserGrant, lost: AbortSignal): Promise<PairToStore | { done: UserGrant } | { gone: true }> {
    const stashed = await this.readStash(grant);
    if (stashed) return { over: grant, tokens: stashed, stashed: true, fromStash: true };
    if (!grant.active) throw new ReauthorizationRequiredError(grant.connectionId);
    // Without the lease another process may be using the same refresh token.
    if (lost.aborted) throw new ZoomTransportError('token refresh', 'the refresh lease was lost');
    let fresh;
    try {
      fresh = await this.zoom.refresh(grant.refreshToken());
    } catch (err) {
      if (err instanceof ZoomGrantRefusedError) return this.refused(grant, err);
      throw err;
    }
    if (!fresh.refreshToken) throw new ZoomTransportError('token refresh', 'response lacks refresh_token');
    const tokens: RefreshedPair = { ...fresh, refreshToken: fresh.refreshToken, issuedAt: fresh.issuedAt ?? Date.now() };
    // From here the stored refresh token is spent: the pair must outlive this process.
    const kept = await this.grants.stashRefreshed(grant, tokens).then(
      () => true,
      (err: unknown) => {
        this.logger.warn(`Connection ${grant.connectionId}: could not stash the refreshed tokens (${errorMessage(err)}); storing them from memory`);
        return false;
      },
    );
    return { over: grant, tokens, stashed: kept, fromStash: false };
  }

  /** Zoom refused the refresh token: the grant is dead, unless a refresh that lost its lease rotated it first. */
  private async refused(grant: UserGrant, err: ZoomGrantRefusedError): Promise<PairToStore | { done: UserGrant } | { gone: true }> {
    const again = await this.grants.find(grant.connectionId);
    if (!again) return { gone: true };
    // Another process stored its result: that wins.
    if (again.active && again.version !== grant.version) return { done: again };
    // Another process got a pair from Zoom for this version (so the token we sent was spent) and has not stored it: it is stashed.
    const stashed = await this.readStash(again);
    if (stashed) {
      this.logger.warn(`Connection ${grant.connectionId}: Zoom refused a refresh token that another refresh had rotated; storing that refresh's stashed pair`);
      return { over: again, tokens: stashed, stashed: true, fromStash: true };
    }
    const reason = `Zoom refused the refresh token (HTTP ${err.httpStatus}${err.zoomCode !== undefined ? `, code ${err.zoomCode}` : ''}: ${err.zoomMessage})`;
    await this.grants.markReauthorizationRequired(grant.connectionId, reason);
    this.refreshes.inc({ outcome: 'refused' });
    this.logger.warn(`Connection ${grant.connectionId} needs reauthorization: ${reason}`);
    throw new ReauthorizationRequiredError(grant.connectionId);
  }

  /**
   * Stores a refreshed pair over the version it replaces, trying a few times; null when
   * the connection is gone (its stash too, then). The pair stays in the stash until stored. Once the lease is lost another process may be storing the
   * same pair, so a stashed pair is left to it; one that could not be stashed is this
   * process's only copy and is still tried (the write is conditional on the version, so
   * it never overwrites newer tokens).
   */
  private async save(pair: PairToStore, lost: AbortSignal): Promise<UserGrant | null> {
    const { over, tokens, stashed } = pair;
    let lastError: unknown;
    for (let attempt = 0; attempt < SAVE_ATTEMPTS; attempt++) {
      if (attempt > 0) await sleep(SAVE_RETRY_MS * attempt);
      if (stashed && lost.aborted) {
        this.logger.warn(`Connection ${over.connectionId}: its refresh lease was lost before the refreshed tokens were stored; they stay stashed for the next refresh`);
        throw new ZoomTransportError('token refresh', 'the refresh lease was lost before the refreshed tokens were stored');
      }
      let saved: UserGrant | null;
      try {
        saved = await this.grants.saveRefreshed(over, tokens);
      } catch (err) {
        lastError = err;
        continue;
      }
      // Stored, or the connection is gone: the stash has served either way.
      if (stashed || !saved) await this.clearStash(over);
      return saved;
    }
    this.logger.error(
      stashed
        ? `Connection ${over.connectionId}: the refreshed tokens could not be saved (${errorMessage(lastError)}); kept sealed in Redis for the next refresh`
        : `Connection ${over.connectionId}: the refreshed tokens could be neither saved (${errorMessage(lastError)}) nor stashed; the connection will need a new consent`,
    );
    throw lastError;
  }

  /** The grant, if it can give a token: active, or inactive with a stashed pair that makes it live again. */
  private async usable(connectionId: string): Promise<UserGrant> {
    const grant = await this.grants.find(connectionId);
    if (!grant) throw this.grants.notFound(connectionId);
    if (!grant.active && !(await this.readStash(grant))) throw new ReauthorizationRequiredError(connectionId);
    return grant;
  }

  private readStash(grant: UserGrant): Promise<RefreshedPair | null> {
    return this.grants.findStashed(grant).catch((err: unknown) => {
      this.logger.warn(`Connection ${grant.connectionId}: could not read a stashed token pair (${errorMessage(err)})`);
      return null;
    });
  }

  private async clearStash(grant: UserGrant): Promise<void> {
    // A stash left behind is stale once the version moves on, and expires by itself.
    await this.grants.clearStashed(grant).catch((err: unknown) => this.logger.debug(`Connection ${grant.connectionId}: stash not cleared (${errorMessage(err)})`));
  }
}

function isFresh(grant: UserGrant, windowMs: number, rejected?: string): boolean {
  return grant.active && grant.expiresAt.getTime() - Date.now() >= windowMs && grant.accessToken() !== rejected;
}
