import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../../common/errors/domain-error';
import { OAuthErrorCode } from '../../common/errors/error-codes';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { AppEventsService, AppEventType } from '../app-events';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { ConnectionStatus, OAuthConnectionEntity } from './entities/oauth-connection.entity';
import { OAuthConnectionsRepository, RefreshDue } from './repositories/oauth-connections.repository';
import { tokenAad } from './token-aad';
import { TokenCipher } from '../../common/crypto/token-cipher';
import { ZoomOAuthClient, ZoomTokenSet, ZoomUser } from '../../zoom/auth/zoom-oauth.client';
import { errorMessage } from '../../common/errors/error-message';
import { isUniqueViolation } from '../../database/database-unavailable';
import { PROACTIVE_REFRESH_BEFORE_MS } from '../../zoom/auth/zoom-token.provider';
import { RefreshLease } from '../../zoom/auth/refresh-lease';
import { RefreshedPairStash } from './refreshed-pair.stash';

/** One connection per Zoom user + account (oauth-connection.entity.ts). */
const CONNECTION_USER_INDEX = 'UQ_oauth_connections_zoom_user_account';

export class ConnectionNotFoundError extends DomainError {
  constructor(id: string) {
    super(OAuthErrorCode.ConnectionNotFound, `OAuth connection ${id} does not exist`);
  }
}

/** The API representation of a connection: never a token. */
export function connectionView(c: OAuthConnectionEntity) {
  return {
    id: c.id,
    zoom_user_id: c.zoomUserId,
    zoom_account_id: c.zoomAccountId,
    email: c.email,
    display_name: c.displayName,
    app_user_id: c.appUserId,
    status: c.status,
    status_reason: c.statusReason,
    scopes: c.scopes.split(' ').filter((s) => s.length > 0),
    access_token_expires_at: c.expiresAt,
    last_refreshed_at: c.lastRefreshedAt,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}
export type ConnectionView = ReturnType<typeof connectionView>;

export interface StoreConnectionInput {
  user: ZoomUser;
  tokens: ZoomTokenSet & { refreshToken: string };
  ownerKeyFingerprint: string | null;
  /** Owner tag of the key that started the authorization (a reconnect moves the connection to it). */
  owner?: string | null;
  appUserId: string | null;
}

/**
 * The oauth_connections table: storing, listing and removing connections, sealing and
 * opening their tokens. Other modules get tokens from ZoomTokenProvider, never here.
 */
@Injectable()
export class OAuthConnectionsService {
  private readonly logger = new Logger(OAuthConnectionsService.name);

  constructor(
    @InjectRepository(OAuthConnectionEntity) private readonly repo: Repository<OAuthConnectionEntity>,
    private readonly cipher: TokenCipher,
    private readonly zoom: ZoomOAuthClient,
    private readonly producer: JobProducer,
    private readonly appEvents: AppEventsService,
    private readonly rows: OAuthConnectionsRepository,
    private readonly refreshLease: RefreshLease,
    private readonly stash: RefreshedPairStash,
  ) {}

  async find(id: string): Promise<OAuthConnectionEntity | null> {
    return this.repo.findOne({ where: { id } });
  }

  /** The connection; with an `owner`, another owner's connection is not found either. */
  async get(id: string, owner?: string | null): Promise<OAuthConnectionEntity> {
    const c = owner ? await this.repo.findOne({ where: { id, owner } }) : await this.find(id);
    if (!c) throw new ConnectionNotFoundError(id);
    return c;
  }

  async list(filter: { appUserId?: string; status?: ConnectionStatus; owner?: string } = {}): Promise<OAuthConnectionEntity[]> {
    return this.repo.find({
      where: {
        ...(filter.appUserId ? { appUserId: filter.appUserId } : {}),
        ...(filter.status ? { status: filter.status } : {}),
        ...(filter.owner ? { owner: filter.owner } : {}),
      },
      order: { createdAt: 'DESC' },
    });
  }

  /** Creates or replaces the connection of a Zoom user (one per user + account). */
  async storeAuthorized(input: StoreConnectionInput): Promise<OAuthConnectionEntity> {
    let id: string;
    try {
      id = await this.writeAuthorized(input);
    } catch (err) {
      // Two first-time callbacks of the same user both found no row and both inserted: the
      // second lost the race on the unique index. Its tokens are as fresh as the winner's,
      // so it takes the update path (now that the row exists) instead of answering 500.
      if (!isUniqueViolation(err, CONNECTION_USER_INDEX)) throw err;
      id = await this.writeAuthorized(input);
    }
    const saved = await this.get(id);
    await this.scheduleProactiveRefresh(saved);
    return saved;
  }

  /** Updates the user's row (tokens sealed to its id) or inserts a new one; returns the id. */
  private async writeAuthorized(input: StoreConnectionInput): Promise<string> {
    const existing = await this.repo.findOne({ where: { zoomUserId: input.user.id, zoomAccountId: input.user.accountId } });
    const id = existing?.id ?? randomUUID();
    const sealed = this.seal(id, input.tokens.accessToken, input.tokens.refreshToken);
    const values = {
      email: input.user.email,
      displayName: input.user.displayName,
      ownerKeyFingerprint: input.ownerKeyFingerprint,
      owner: input.owner ?? null,
      appUserId: input.appUserId,
      ...sealed,
      scopes: input.tokens.scope,
      expiresAt: expiresAtOf(input.tokens),
      status: ConnectionStatus.Active,
      statusReason: null,
    };
    if (existing) {
      // Bumped in SQL: a refresh that lands between the read above and this write still
      // sees its version move on and loses (storeRefreshed), never the newer consent.
      // A new consent: an app_deauthorized from before it no longer removes the connection.
      await this.repo.update({ id }, { ...values, tokenVersion: () => 'token_version + 1', authorizedAt: () => 'now()' });
    } else {
      await this.repo.insert({ id, zoomUserId: input.user.id, zoomAccountId: input.user.accountId, tokenVersion: 1, ...values });
    }
    return id;
  }

  /**
   * Writes a refreshed token pair (Zoom rotated the refresh token), only over the version
   * the refresh started from. A refresh that went stale meanwhile (its lease lapsed and
   * another process refreshed, or the user consented again) loses: the newer tokens stay
   * and are returned, and the stale pair is dropped.
   */
  async storeRefreshed(conn: OAuthConnectionEntity, tokens: ZoomTokenSet & { refreshToken: string }): Promise<OAuthConnectionEntity> {
    const written = await this.repo.update(
      { id: conn.id, tokenVersion: conn.tokenVersion },
      {
        ...this.seal(conn.id, tokens.accessToken, tokens.refreshToken),
        scopes: tokens.scope || conn.scopes,
        expiresAt: expiresAtOf(tokens),
        tokenVersion: conn.tokenVersion + 1,
        lastRefreshedAt: new Date(),
        status: ConnectionStatus.Active,
        statusReason: null,
      },
    );
    const saved = await this.get(conn.id);
    if (!written.affected) {
      this.logger.warn(`A stale refresh of connection ${conn.id} (from token version ${conn.tokenVersion}) lost to version ${saved.tokenVersion}; its tokens were dropped`);
      return saved;
    }
    await this.scheduleProactiveRefresh(saved);
    return saved;
  }

  /** The grant is dead (Zoom refused its refresh token): announced when the connection was not already marked so. */
  async markReauthorizationRequired(id: string, reason: string): Promise<void> {
    await this.repo.manager.transaction(async (em) => {
      const repo = em.getRepository(OAuthConnectionEntity);
      const c = await repo.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!c) return;
      await repo.update({ id }, { status: ConnectionStatus.ReauthorizationRequired, statusReason: reason });
      if (c.status !== ConnectionStatus.ReauthorizationRequired) await this.announce(AppEventType.OAuthReauthorizationRequired, c, reason, em);
    });
  }

  openAccessToken(c: OAuthConnectionEntity): string {
    return this.cipher.decrypt(c.accessTokenEnc, tokenAad(c.id, 'access_token'));
  }

  openRefreshToken(c: OAuthConnectionEntity): string {
    return this.cipher.decrypt(c.refreshTokenEnc, tokenAad(c.id, 'refresh_token'));
  }

  /**
   * Disconnects: revokes the grant at Zoom, then deletes the row. A token Zoom no longer
   * knows counts as revoked. If Zoom cannot be reached the row stays (retry later)
   * unless `force` is set.
   */
  async disconnect(id: string, opts: { force?: boolean; owner?: string | null } = {}): Promise<{ revokedAtZoom: boolean }> {
    await this.get(id, opts.owner);
    // Under the refresh lease, with the row read under it: a refresh running now has
    // rotated the refresh token by the time we read it, so the revoke sends the live one,
    // not the spent one (which Zoom may not take as ending the new grant).
    return this.refreshLease.run(id, this.refreshLease.ttlMs, () => this.revokeAndDelete(id, opts));
  }

  private async revokeAndDelete(id: string, opts: { force?: boolean; owner?: string | null }): Promise<{ revokedAtZoom: boolean }> {
    const c = await this.get(id, opts.owner);
    let revokedAtZoom = false;
    try {
      // Revoking the refresh token ends the whole grant (its access tokens too). A pair
      // waiting in the stash holds the live one: the stored one is spent already.
      const waiting = await this.stash.find(c.id, c.tokenVersion).catch(() => null);
      revokedAtZoom = await this.zoom.revoke(waiting?.refreshToken ?? this.openRefreshToken(c));
    } catch (err) {
      if (!opts.force) throw err;
      this.logger.warn(`Revoking connection ${id} at Zoom failed (${err instanceof Error ? err.name : 'error'}); deleting it anyway (force)`);
    }
    await this.repo.manager.transaction(async (em) => {
      const res = await em.getRepository(OAuthConnectionEntity).delete({ id });
      if (res.affected) await this.announce(AppEventType.OAuthRevoked, c, 'disconnected', em);
    });
    await this.clearStashes([id]);
    this.logger.log(`Connection ${id} disconnected (revoked at Zoom: ${revokedAtZoom})`);
    return { revokedAtZoom };
  }

  /**
   * For the `app_deauthorized` webhook: Zoom already ended the grant, so the user's
   * tokens are deleted without calling Zoom. With `deauthorizedAt` (Zoom's
   * deauthorization_time), only connections authorized at or before it go: Zoom retries
   * the webhook for an hour, and a consent given after the removal is a new, live grant.
   * Returns how many connections went.
   */
  async deleteConnectionsForZoomUser(zoomUserId: string, zoomAccountId?: string, deauthorizedAt?: Date): Promise<number> {
    const removed = await this.repo.manager.transaction(async (em) => {
      const rows = await this.rows.deleteForZoomUser(zoomUserId, zoomAccountId, em, deauthorizedAt);
      for (const r of rows) await this.announce(AppEventType.OAuthRevoked, r, 'app_deauthorized', em);
      return rows;
    });
    await this.clearStashes(removed.map((r) => r.id));
    this.logger.log(`Deleted ${removed.length} OAuth connection(s) of a deauthorized Zoom user`);
    return removed.length;
  }

  /** A deleted connection's refreshed pair waiting in Redis (refreshed-pair.stash.ts) goes with it. */
  private async clearStashes(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      // It would expire by itself (and is sealed): a failure here is not the deletion's.
      await this.stash.clear(id).catch((err: unknown) => this.logger.warn(`Could not clear the stashed tokens of deleted connection ${id}: ${errorMessage(err)}`));
    }
  }

  /** oauth.connection.* events concern no session. */
  private async announce(type: AppEventType, c: Pick<OAuthConnectionEntity, 'id' | 'zoomUserId' | 'zoomAccountId'>, reason: string, em: EntityManager): Promise<void> {
    await this.appEvents.record({ type, data: { connection_id: c.id, zoom_user_id: c.zoomUserId, zoom_account_id: c.zoomAccountId, reason } }, em);
  }

  /** Enqueues a token.refresh shortly before expiry (one job per token version). */
  async scheduleProactiveRefresh(c: OAuthConnectionEntity): Promise<void> {
    const delay = Math.max(0, c.expiresAt.getTime() - Date.now() - PROACTIVE_REFRESH_BEFORE_MS);
    try {
      await this.producer.enqueue(
        JobName.TokenRefresh,
        { connectionId: c.id, tokenVersion: c.tokenVersion },
        { delay },
      );
    } catch (err) {
      // The on-demand refresh still covers this connection; the job is only an optimisation.
      this.logger.warn(`Could not schedule the proactive refresh of ${c.id}: ${errorMessage(err)}`);
    }
  }

  /**
   * For the refresh sweeper: queues the connection's proactive refresh again when its job
   * is gone (failed for good, never queued, lost). A job still waiting or running is left
   * alone. Returns whether one was queued.
   */
  async ensureProactiveRefresh(c: RefreshDue): Promise<boolean> {
    const delay = Math.max(0, c.expiresAt.getTime() - Date.now() - PROACTIVE_REFRESH_BEFORE_MS);
    return this.producer.requeue(JobName.TokenRefresh, { connectionId: c.id, tokenVersion: c.tokenVersion }, { delay });
  }

  /** Active connections whose access token expires before `before`, by id after `afterId` (a page of the sweep). */
  findRefreshOverdue(before: Date, afterId: string | null, limit: number): Promise<RefreshDue[]> {
    return this.rows.findActiveExpiringBefore(before, afterId, limit);
  }

  private seal(id: string, accessToken: string, refreshToken: string): Pick<OAuthConnectionEntity, 'accessTokenEnc' | 'refreshTokenEnc' | 'keyId'> {
    return {
      accessTokenEnc: this.cipher.encrypt(accessToken, tokenAad(id, 'access_token')),
      refreshTokenEnc: this.cipher.encrypt(refreshToken, tokenAad(id, 'refresh_token')),
      keyId: this.cipher.currentKeyId,
    };
  }
}

/** When Zoom said the access token expires: from when it was issued, not from when it is stored. */
function expiresAtOf(tokens: ZoomTokenSet): Date {
  return new Date((tokens.issuedAt ?? Date.now()) + tokens.expiresInSec * 1000);
}
