import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { TurnBatcher } from '../../../common/async/turn-batcher';
import { Cursor } from '../../../common/http/pagination';
import { WebhookAttemptEntity, WebhookAttemptTrigger } from '../entities/webhook-attempt.entity';
import { WebhookMessageEntity, WebhookMessageStatus } from '../entities/webhook-message.entity';
import { Keyed, keysetPage } from '../../../common/http/keyset-page';
import { returningRows } from '../../../database/returning-rows';

/** A message with what its delivery needs of its endpoint. */
export interface DeliverableMessage {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  body: string;
  status: WebhookMessageStatus;
  attempts: number;
  createdAt: Date;
  /** When this attempt was due (next_attempt_at). */
  dueAt: Date | null;
  url: string;
  enabled: boolean;
  secretEnc: string;
  previousSecretEnc: string | null;
  previousSecretExpiresAt: Date | null;
  failingSince: Date | null;
}

/** One attempt's outcome, written with the message's new state in one statement. */
export interface AttemptRecord {
  attemptId: string;
  messageId: string;
  attemptNo: number;
  trigger: WebhookAttemptTrigger;
  startedAt: Date;
  statusCode: number | null;
  latencyMs: number;
  responseBody: string | null;
  error: string | null;
  /** The message after this attempt. */
  status: WebhookMessageStatus;
  nextAttemptAt: Date | null;
}

/** Filters of an endpoint's delivery log. */
export interface MessageListFilter {
  status?: WebhookMessageStatus;
  eventType?: string;
}

/** The SQL of `webhook_messages` and `webhook_attempts`. */
@Injectable()
export class WebhookMessagesRepository {
  private readonly loader = new TurnBatcher<string, DeliverableMessage | null>((ids) => this.loadMany(ids));
  private readonly writer = new TurnBatcher<AttemptRecord, boolean>((records) => this.recordMany(records));

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Creates the event's message for every enabled endpoint subscribed to its type (once:
   * a re-run adds none), due after `firstDelayMs`, and returns the ids of the event's
   * messages still waiting for their first attempt (those of an interrupted earlier run too).
   */
  async createForEvent(
    event: { id: string; type: string; optIn: boolean; body: string },
    firstDelayMs: number,
    em: EntityManager = this.db.manager,
  ): Promise<string[]> {
    const rows: Array<{ id: string }> = await em.query(
      `WITH ins AS (
         INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at)
         SELECT gen_random_uuid(), e.id, $1::uuid, $2::text, $3::text, 'pending', 0, now() + ($5::int * interval '1 millisecond')
           FROM webhook_endpoints e
          WHERE e.enabled AND ($2::text = ANY(e.events) OR ('*' = ANY(e.events) AND NOT $4::boolean))
         ON CONFLICT (endpoint_id, event_id) DO NOTHING
         RETURNING id)
       SELECT id FROM ins
       UNION
       SELECT id FROM webhook_messages WHERE event_id = $1::uuid AND status = 'pending' AND attempts = 0`,
      [event.id, event.type, event.body, event.optIn, firstDelayMs],
    );
    return rows.map((r) => r.id);
  }

  /** A message for one endpoint only (the test ping). */
  async createOne(m: { id: string; endpointId: string; eventId: string; eventType: string; body: string }): Promise<void> {
    await this.db.query(
      `INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at)
       VALUES ($1, $2, $3, $4, $5, 'pending', 0, now())`,
      [m.id, m.endpointId, m.eventId, m.eventType, m.body],
    );
  }

  /** The message and its endpoint (null when gone). Concurrent calls share one query. */
  findDeliverable(id: string): Promise<DeliverableMessage | null> {
    return this.loader.run(id);
  }

  private async loadMany(ids: string[]): Promise<Array<DeliverableMessage | null>> {
    const rows: DeliverableMessage[] = await this.db.query(
      `SELECT m.id, m.endpoint_id AS "endpointId", m.event_id AS "eventId", m.event_type AS "eventType", m.body, m.status, m.attempts,
              m.created_at AS "createdAt", m.next_attempt_at AS "dueAt", e.url, e.enabled, e.secret_enc AS "secretEnc", e.previous_secret_enc AS "previousSecretEnc",
              e.previous_secret_expires_at AS "previousSecretExpiresAt", e.failing_since AS "failingSince"
         FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id
        WHERE m.id = ANY($1::uuid[])`,
      [ids],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /**
   * Writes an attempt and the message's new state, only if no other attempt got there
   * first (the message still has `attemptNo - 1` attempts). Returns false when it had.
   * A message no longer pending (failed meanwhile) is not made pending again.
   * Concurrent calls share one statement (group commit), so busy workers need few connections.
   */
  recordAttempt(a: AttemptRecord): Promise<boolean> {
    return this.writer.run(a);
  }

  private async recordMany(all: AttemptRecord[]): Promise<boolean[]> {
    // In message-id order, so two batches never lock the same rows in opposite orders.
    const batch = [...all].sort((x, y) => (x.messageId < y.messageId ? -1 : x.messageId > y.messageId ? 1 : 0));
    const col = <K extends keyof AttemptRecord>(k: K) => batch.map((a) => a[k]);
    const rows: Array<{ message_id: string }> = await this.db.query(
      `WITH v AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::varchar[], $5::timestamptz[], $6::int[], $7::int[], $8::text[], $9::text[], $10::varchar[], $11::timestamptz[])
             AS v(attempt_id, message_id, attempt_no, trigger, started_at, status_code, latency_ms, response_body, error, status, next_attempt_at)),
       upd AS (
         -- A message failed while this attempt was in flight (its endpoint was disabled) keeps
         -- its state: writing 'pending' back would revive it on a disabled endpoint (the sweeper
         -- would resend it). The attempt is still logged and counted; a 2xx still marks it delivered.
         UPDATE webhook_messages m
            SET attempts = v.attempt_no,
                status = CASE WHEN m.status = 'pending' OR v.status = 'succeeded' THEN v.status ELSE m.status END,
                next_attempt_at = CASE WHEN m.status = 'pending' OR v.status = 'succeeded' THEN v.next_attempt_at ELSE m.next_attempt_at END,
                last_status_code = v.status_code,
                last_error = CASE WHEN m.status = 'pending' OR v.status = 'succeeded' THEN v.error ELSE m.last_error END,
                delivered_at = CASE WHEN v.status = 'succeeded' THEN now() ELSE m.delivered_at END
           FROM v
          WHERE m.id = v.message_id AND m.attempts = v.attempt_no - 1
          RETURNING m.id)
       INSERT INTO webhook_attempts (id, message_id, attempt_no, trigger, started_at, status_code, latency_ms, response_body, error)
       SELECT v.attempt_id, v.message_id, v.attempt_no, v.trigger, v.started_at, v.status_code, v.latency_ms, v.response_body, v.error
         FROM v JOIN upd ON upd.id = v.message_id
       RETURNING message_id`,
      [
        col('attemptId'),
        col('messageId'),
        col('attemptNo'),
        col('trigger'),
        col('startedAt'),
        col('statusCode'),
        col('latencyMs'),
        col('responseBody'),
        col('error'),
        col('status'),
        col('nextAttemptAt'),
      ],
    );
    const recorded = new Set(rows.map((r) => r.message_id));
    return all.map((a) => recorded.has(a.messageId));
  }

  /** Closes a pending message without an attempt (its endpoint is disabled). */
  async failWithoutAttempt(id: string, error: string): Promise<void> {
    await this.db.query(`UPDATE webhook_messages SET status = 'failed', next_attempt_at = NULL, last_error = $2 WHERE id = $1 AND status = 'pending'`, [id, error]);
  }

  /** Fails every pending message of an endpoint (it was disabled). */
  async failPendingOfEndpoint(endpointId: string, error: string, em: EntityManager = this.db.manager): Promise<number> {
    const rows = await returningRows(
      em.query(`UPDATE webhook_messages SET status = 'failed', next_attempt_at = NULL, last_error = $2 WHERE endpoint_id = $1 AND status = 'pending' RETURNING id`, [
        endpointId,
        error,
      ]),
    );
    return rows.length;
  }

  /** Pending messages due more than `overdueMs` ago (their job may be lost), oldest first. */
  async findOverdue(overdueMs: number, limit: number): Promise<Array<{ id: string; attempts: number }>> {
    return this.db.query(
      `SELECT id, attempts FROM webhook_messages
        WHERE status = 'pending' AND next_attempt_at < now() - ($1::int * interval '1 millisecond')
        ORDER BY next_attempt_at LIMIT $2`,
      [overdueMs, limit],
    );
  }

  /**
   * Makes a message due now for a manual attempt (resend or recover): pending again,
   * whatever it was. Returns the number of the attempt to make, or null if it is gone.
   */
  async makeDueNow(id: string): Promise<number | null> {
    const rows = await returningRows<{ attempts: number }>(
      this.db.query(`UPDATE webhook_messages SET status = 'pending', next_attempt_at = now() WHERE id = $1 RETURNING attempts`, [id]),
    );
    return rows[0] ? rows[0].attempts + 1 : null;
  }

  /** The endpoint's failed messages created since `since` (for recover), oldest first. */
  async findFailedSince(endpointId: string, since: Date, limit: number): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.db.query(
      `SELECT id FROM webhook_messages WHERE endpoint_id = $1 AND status = 'failed' AND created_at >= $2 ORDER BY created_at LIMIT $3`,
      [endpointId, since, limit],
    );
    return rows.map((r) => r.id);
  }

  findById(id: string): Promise<WebhookMessageEntity | null> {
    return this.db.manager.getRepository(WebhookMessageEntity).findOne({ where: { id } });
  }

  /** One keyset page of an endpoint's messages, newest first: up to `limit + 1` rows. */
  findPage(endpointId: string, filter: MessageListFilter, limit: number, cursor?: Cursor): Promise<Array<Keyed<WebhookMessageEntity>>> {
    const qb = this.db.manager.getRepository(WebhookMessageEntity).createQueryBuilder('m').where('m.endpoint_id = :endpointId', { endpointId });
    if (filter.status) qb.andWhere('m.status = :status', { status: filter.status });
    if (filter.eventType) qb.andWhere('m.event_type = :eventType', { eventType: filter.eventType });
    return keysetPage(qb, 'm', limit, cursor);
  }

  /** Every attempt of a message, in the order they were made. */
  findAttempts(messageId: string): Promise<WebhookAttemptEntity[]> {
    return this.db.manager.getRepository(WebhookAttemptEntity).find({ where: { messageId }, order: { attemptNo: 'ASC', startedAt: 'ASC' } });
  }

  // ───────────── retention (docs/retention.md) ─────────────

  /**
   * Deletes every message of these app events, pending ones included (their attempts go by
   * cascade); returns how many. A delivery job of a deleted message finds nothing and
   * ends as `stale`; an attempt in flight records nothing (its message is gone).
   */
  async deleteForEvents(eventIds: string[], em: EntityManager = this.db.manager): Promise<number> {
    if (eventIds.length === 0) return 0;
    return (await returningRows<{ id: string }>(em.query(`DELETE FROM webhook_messages WHERE event_id = ANY($1::uuid[]) RETURNING id`, [eventIds]))).length;
  }

  /** Which of these events have a message still pending (being delivered or retried). */
  async eventsWithPending(eventIds: string[]): Promise<Set<string>> {
    if (eventIds.length === 0) return new Set();
    const rows: Array<{ event_id: string }> = await this.db.query(
      `SELECT DISTINCT event_id FROM webhook_messages WHERE event_id = ANY($1::uuid[]) AND status = 'pending'`,
      [eventIds],
    );
    return new Set(rows.map((r) => r.event_id));
  }

  /**
   * Deletes up to `limit` finished (succeeded or failed) messages created more than `days`
   * ago, oldest first (IDX_webhook_messages_finished_created); returns how many. A message
   * still pending is never taken from its delivery; one that a resend makes pending again
   * after this picked it is spared by the status check the DELETE makes on the locked row.
   */
  async deleteFinishedOlderThan(days: number, limit: number): Promise<number> {
    const rows = await returningRows<{ id: string }>(
      this.db.query(
        `DELETE FROM webhook_messages WHERE id IN (
           SELECT id FROM webhook_messages WHERE status <> 'pending' AND created_at < now() - make_interval(secs => $1::float8) ORDER BY created_at LIMIT $2::int)
           AND status <> 'pending'
         RETURNING id`,
        [days * 86400, limit],
      ),
    );
    return rows.length;
  }
}
