import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { WebhookAttemptTrigger } from '../entities/webhook-attempt.entity';
import { WebhookMessageStatus } from '../entities/webhook-message.entity';

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

/** The SQL of `webhook_messages` and `webhook_attempts`. */
@Injectable()
export class WebhookMessagesRepository {
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
         SELECT gen_random_uuid(), e.id, $1, $2::text, $3, 'pending', 0, now() + ($5::int * interval '1 millisecond')
           FROM webhook_endpoints e
          WHERE e.enabled AND ($2::text = ANY(e.events) OR ('*' = ANY(e.events) AND NOT $4::boolean))
         ON CONFLICT (endpoint_id, event_id) DO NOTHING
         RETURNING id)
       SELECT id FROM ins
       UNION
       SELECT id FROM webhook_messages WHERE event_id = $1 AND status = 'pending' AND attempts = 0`,
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

  async findDeliverable(id: string): Promise<DeliverableMessage | null> {
    const rows: DeliverableMessage[] = await this.db.query(
      `SELECT m.id, m.endpoint_id AS "endpointId", m.event_id AS "eventId", m.event_type AS "eventType", m.body, m.status, m.attempts,
              m.created_at AS "createdAt", e.url, e.enabled, e.secret_enc AS "secretEnc", e.previous_secret_enc AS "previousSecretEnc",
              e.previous_secret_expires_at AS "previousSecretExpiresAt", e.failing_since AS "failingSince"
         FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id
        WHERE m.id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }

  /**
   * Writes an attempt and the message's new state, only if no other attempt got there
   * first (the message still has `attemptNo - 1` attempts). Returns false when it had.
   */
  async recordAttempt(a: AttemptRecord): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `WITH upd AS (
         UPDATE webhook_messages
            SET attempts = $3::int, status = $10::text, next_attempt_at = $11, last_status_code = $6::int, last_error = $9::text,
                delivered_at = CASE WHEN $10::text = 'succeeded' THEN now() ELSE delivered_at END
          WHERE id = $2 AND attempts = $3::int - 1
          RETURNING id)
       INSERT INTO webhook_attempts (id, message_id, attempt_no, trigger, started_at, status_code, latency_ms, response_body, error)
       SELECT $1, upd.id, $3::int, $4, $5, $6::int, $7, $8, $9::text FROM upd
       RETURNING id`,
      [a.attemptId, a.messageId, a.attemptNo, a.trigger, a.startedAt, a.statusCode, a.latencyMs, a.responseBody, a.error, a.status, a.nextAttemptAt],
    );
    return rows.length > 0;
  }

  /** Closes a pending message without an attempt (its endpoint is disabled). */
  async failWithoutAttempt(id: string, error: string): Promise<void> {
    await this.db.query(`UPDATE webhook_messages SET status = 'failed', next_attempt_at = NULL, last_error = $2 WHERE id = $1 AND status = 'pending'`, [id, error]);
  }

  /** Fails every pending message of an endpoint (it was disabled). */
  async failPendingOfEndpoint(endpointId: string, error: string): Promise<number> {
    const rows: unknown[] = await this.db.query(
      `UPDATE webhook_messages SET status = 'failed', next_attempt_at = NULL, last_error = $2 WHERE endpoint_id = $1 AND status = 'pending' RETURNING id`,
      [endpointId, error],
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
    const rows: Array<{ attempts: number }> = await this.db.query(
      `UPDATE webhook_messages SET status = 'pending', next_attempt_at = now() WHERE id = $1 RETURNING attempts`,
      [id],
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
}
