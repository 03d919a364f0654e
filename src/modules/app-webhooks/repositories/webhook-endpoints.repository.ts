import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, DeepPartial, EntityManager, Repository } from 'typeorm';
import { Cursor } from '../../../common/http/pagination';
import { WebhookEndpointEventEntity } from '../entities/webhook-endpoint-event.entity';
import { WebhookEndpointEntity } from '../entities/webhook-endpoint.entity';
import { Keyed, keysetPage } from '../../../common/http/keyset-page';
import { returningRows } from '../../../database/returning-rows';

/** What `webhook_endpoint_events` records. */
export type EndpointEventType = 'endpoint.disabled' | 'endpoint.enabled' | 'endpoint.secret_rotated';

/** The SQL of `webhook_endpoints` (the API's rows and the delivery health) and `webhook_endpoint_events`. */
@Injectable()
export class WebhookEndpointsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  private repo(em?: EntityManager): Repository<WebhookEndpointEntity> {
    return (em ?? this.db.manager).getRepository(WebhookEndpointEntity);
  }

  /** Inserts a new endpoint (its id chosen by the caller: the sealed secret is bound to it). */
  insert(fields: DeepPartial<WebhookEndpointEntity>, em?: EntityManager): Promise<WebhookEndpointEntity> {
    const repo = this.repo(em);
    return repo.save(repo.create(fields));
  }

  /** Writes a loaded endpoint's changed fields back (updated_at moves). */
  save(endpoint: WebhookEndpointEntity, em?: EntityManager): Promise<WebhookEndpointEntity> {
    return this.repo(em).save(endpoint);
  }

  findById(id: string, em?: EntityManager): Promise<WebhookEndpointEntity | null> {
    return this.repo(em).findOne({ where: { id } });
  }

  /** Loads an endpoint under a row lock held until `em`'s transaction ends (updates, rotations). */
  findByIdForUpdate(id: string, em: EntityManager): Promise<WebhookEndpointEntity | null> {
    return this.repo(em).createQueryBuilder('e').setLock('pessimistic_write').where('e.id = :id', { id }).getOne();
  }

  /** One keyset page of endpoints, newest first: up to `limit + 1` rows (the extra one says there is more). */
  findPage(limit: number, cursor?: Cursor): Promise<Array<Keyed<WebhookEndpointEntity>>> {
    return keysetPage(this.repo().createQueryBuilder('e'), 'e', limit, cursor);
  }

  /** True when a row was deleted (its messages, attempts and events cascade). */
  async deleteById(id: string): Promise<boolean> {
    const result = await this.repo().delete({ id });
    return Boolean(result.affected);
  }

  /** Records something that happened to an endpoint (shown by GET /webhook-endpoints/:id/events). */
  async recordEvent(endpointId: string, type: EndpointEventType, details: Record<string, unknown>, em?: EntityManager): Promise<void> {
    await (em ?? this.db.manager).query(`INSERT INTO webhook_endpoint_events (endpoint_id, type, details) VALUES ($1, $2, $3)`, [
      endpointId,
      type,
      JSON.stringify(details),
    ]);
  }

  /** One keyset page of an endpoint's event records, newest first (up to `limit + 1` rows). */
  findEventsPage(endpointId: string, limit: number, cursor?: Cursor): Promise<Array<Keyed<WebhookEndpointEventEntity>>> {
    const qb = this.db.manager.getRepository(WebhookEndpointEventEntity).createQueryBuilder('ev').where('ev.endpoint_id = :endpointId', { endpointId });
    return keysetPage(qb, 'ev', limit, cursor);
  }

  /** A delivery succeeded: the endpoint is healthy again. */
  async markHealthy(endpointId: string): Promise<void> {
    await this.db.query(`UPDATE webhook_endpoints SET failing_since = NULL, last_failure_at = NULL WHERE id = $1 AND failing_since IS NOT NULL`, [endpointId]);
  }

  /**
   * A delivery failed: remember since when (the first failure of a run) and when last.
   * Returns the start of the run. A run is continuous: when the previous failure is more
   * than `runGapMs` ago (longer than any wait between two attempts of one message),
   * nothing was tried in between that failed, and this failure starts a new run — an
   * endpoint with few messages is not disabled for a failure days ago and one now.
   */
  async markFailing(endpointId: string, runGapMs: number): Promise<Date | null> {
    const rows = await returningRows<{ failing_since: Date }>(
      this.db.query(
        `UPDATE webhook_endpoints
            SET failing_since = CASE WHEN failing_since IS NULL OR last_failure_at IS NULL OR last_failure_at < now() - ($2::float8 * interval '1 millisecond')
                                     THEN now() ELSE failing_since END,
                last_failure_at = now()
          WHERE id = $1 RETURNING failing_since`,
        [endpointId, runGapMs],
      ),
    );
    return rows[0]?.failing_since ?? null;
  }

  /**
   * Disables an enabled endpoint and records why, in `em`'s transaction (or its own).
   * Returns false if it was not enabled.
   */
  async disable(endpointId: string, reason: string, details: Record<string, unknown>, em?: EntityManager): Promise<boolean> {
    const run = async (tx: EntityManager) => {
      const rows = await returningRows(
        tx.query(`UPDATE webhook_endpoints SET enabled = false, disabled_at = now(), disabled_reason = $2 WHERE id = $1 AND enabled RETURNING id`, [endpointId, reason]),
      );
      if (rows.length === 0) return false;
      await this.recordEvent(endpointId, 'endpoint.disabled', { reason, ...details }, tx);
      return true;
    };
    return em ? run(em) : this.db.transaction(run);
  }
}
