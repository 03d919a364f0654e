import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../../database/returning-rows';

/** A connection removed with its identity (for the revoked event). */
export interface RemovedConnection {
  id: string;
  zoomUserId: string;
  zoomAccountId: string;
}

/** The SQL of `oauth_connections` that is more than a find or an update by id. */
@Injectable()
export class OAuthConnectionsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Deletes every connection of a Zoom user (of one account, when given) and returns what went. */
  async deleteForZoomUser(zoomUserId: string, zoomAccountId: string | undefined, em: EntityManager = this.db.manager): Promise<RemovedConnection[]> {
    const rows = await returningRows<{ id: string; zoom_user_id: string; zoom_account_id: string }>(
      em.query(`DELETE FROM oauth_connections WHERE zoom_user_id = $1 AND ($2::varchar IS NULL OR zoom_account_id = $2) RETURNING id, zoom_user_id, zoom_account_id`, [
        zoomUserId,
        zoomAccountId ?? null,
      ]),
    );
    return rows.map((r) => ({ id: r.id, zoomUserId: r.zoom_user_id, zoomAccountId: r.zoom_account_id }));
  }
}
