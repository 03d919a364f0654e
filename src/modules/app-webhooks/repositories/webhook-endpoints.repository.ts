import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { returningRows } from './returning';

/** The SQL of `webhook_endpoints`' delivery health and `webhook_endpoint_events`. */
@Injectable()
export class WebhookEndpointsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** A delivery succeeded: the endpoint is healthy again. */
  async markHealthy(endpointId: string): Promise<void> {
    await this.db.query(`UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, [endpointId]);
  }

  /** A delivery failed: remember since when (the first failure of a run). Returns that time. */
  async markFailing(endpointId: string): Promise<Date | null> {
    const rows = await returningRows<{ failing_since: Date }>(
      this.db.query(`UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now()) WHERE id = $1 RETURNING failing_since`, [endpointId]),
    );
    return rows[0]?.failing_since ?? null;
  }

  /** Disables an enabled endpoint and records why. Returns false if it was not enabled. */
  async disable(endpointId: string, reason: string, details: Record<string, unknown>): Promise<boolean> {
    return this.db.transaction(async (em) => {
      const rows = await returningRows(
        em.query(`UPDATE webhook_endpoints SET enabled = false, disabled_at = now(), disabled_reason = $2 WHERE id = $1 AND enabled RETURNING id`, [endpointId, reason]),
      );
      if (rows.length === 0) return false;
      await em.query(`INSERT INTO webhook_endpoint_events (endpoint_id, type, details) VALUES ($1, 'endpoint.disabled', $2)`, [
        endpointId,
        JSON.stringify({ reason, ...details }),
      ]);
      return true;
    });
  }
}
