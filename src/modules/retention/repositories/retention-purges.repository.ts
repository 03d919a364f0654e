import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { returningRows } from '../../../database/returning-rows';
import type { RetentionCategory } from '../../sessions';

export interface PurgeTotals {
  objects: number;
  bytes: number;
  rows: Record<string, number>;
}

/** The SQL of `retention_purges` (progress of the purges under way). */
@Injectable()
export class RetentionPurgesRepository {
  /** Adds one batch's counts (in the batch's transaction). */
  async add(sessionId: string, category: RetentionCategory, delta: PurgeTotals, em: EntityManager): Promise<void> {
    await em.query(
      `INSERT INTO retention_purges (session_id, category, objects_deleted, bytes_deleted, rows_deleted) VALUES ($1, $2, $3::int, $4::bigint, $5::jsonb)
       ON CONFLICT (session_id, category) DO UPDATE SET
         objects_deleted = retention_purges.objects_deleted + EXCLUDED.objects_deleted,
         bytes_deleted = retention_purges.bytes_deleted + EXCLUDED.bytes_deleted,
         rows_deleted = (SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb) FROM (
           SELECT k, sum(v::bigint) AS v FROM (
             SELECT key AS k, value AS v FROM jsonb_each_text(retention_purges.rows_deleted)
             UNION ALL SELECT key, value FROM jsonb_each_text(EXCLUDED.rows_deleted)) parts GROUP BY k) summed),
         updated_at = now()`,
      [sessionId, category, delta.objects, delta.bytes, JSON.stringify(delta.rows)],
    );
  }

  /** The totals so far, removing the row (in the transaction that writes the deletion log). */
  async take(sessionId: string, category: RetentionCategory, em: EntityManager): Promise<PurgeTotals> {
    const rows = await returningRows<{ objects_deleted: number; bytes_deleted: string; rows_deleted: Record<string, number | string> }>(
      em.query(`DELETE FROM retention_purges WHERE session_id = $1 AND category = $2 RETURNING objects_deleted, bytes_deleted, rows_deleted`, [sessionId, category]),
    );
    const r = rows[0];
    if (!r) return { objects: 0, bytes: 0, rows: {} };
    return { objects: r.objects_deleted, bytes: Number(r.bytes_deleted), rows: Object.fromEntries(Object.entries(r.rows_deleted).map(([k, v]) => [k, Number(v)])) };
  }
}
