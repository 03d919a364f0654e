import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../../database/returning-rows';
import { ConnectionStatus } from '../entities/oauth-connection.entity';

/** A connection removed with its identity (for the revoked event). */
export interface RemovedConnection {
  id: string;
  zoomUserId: string;
  zoomAccountId: string;
}

/** What the refresh sweeper needs of a connection. */
export interface RefreshDue {
  id: string;
  tokenVersion: number;
  expiresAt: Date;
}

/** The SQL of `oauth_connections` that is more than a find or an update by id. */
@Injectable()
export class OAuthConnectionsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Deletes every connection of a Zoom user (of one account, when given) and returns what
   * went. With `authorizedUpTo`, only connections authorized at or before it go.
   */
  async deleteForZoomUser(zoomUserId: string, zoomAccountId: string | undefined, em: EntityManager = this.db.manager, authorizedUpTo?: Date): Promise<RemovedConnection[]> {
    const rows = await returningRows<{ id: string; zoom_user_id: string; zoom_account_id: string }>(
      em.query(
        `DELETE FROM oauth_connections
          WHERE zoom_user_id = $1 AND ($2::varchar IS NULL OR zoom_account_id = $2) AND ($3::timestamptz IS NULL OR authorized_at <= $3)
          RETURNING id, zoom_user_id, zoom_account_id`,
        [zoomUserId, zoomAccountId ?? null, authorizedUpTo ?? null],
      ),
    );
    return rows.map((r) => ({ id: r.id, zoomUserId: r.zoom_user_id, zoomAccountId: r.zoom_account_id }));
  }

  /** A page of active connections whose access token expires before `before`, by id after `afterId`. */
  async findActiveExpiringBefore(before: Date, afterId: string | null, limit: number): Promise<RefreshDue[]> {
    const rows = await this.db.query<Array<{ id: string; token_version: number; expires_at: Date }>>(
      `SELECT id, token_version, expires_at FROM oauth_connections
        WHERE status = $1 AND expires_at < $2 AND ($3::uuid IS NULL OR id > $3)
        ORDER BY id LIMIT $4`,
      [ConnectionStatus.Active, before, afterId, limit],
    );
    return rows.map((r) => ({ id: r.id, tokenVersion: r.token_version, expiresAt: r.expires_at }));
  }
}
