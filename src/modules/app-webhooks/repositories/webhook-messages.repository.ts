import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { TurnBatcher } from '../../../common/async/turn-batcher';
import { Cursor } from '../../../common/http/pagination';
import { WebhookAttemptEntity, WebhookAttemptTrigger } from '../entities/webhook-attempt.entity';
import { WebhookMessageEntity, WebhookMessageStatus } from '../entities/webhook-message.entity';
import { Keyed, keysetPage } from '../../../common/http/keyset-page';
import { sleep } from '../../../common/async/sleep';
import { isDatabaseUnavailable } from '../../../database/database-unavailable';
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

/** An attempt that was written (null when another attempt of the message got there first). */
export interface RecordedAttempt {
  /** The endpoint had `failing_since` set when the attempt was written. */
  endpointFailing: boolean;
}

/** Where the sweeper's walk through overdue messages stands: the last one it read. */
export interface OverdueCursor {
  /** next_attempt_at as Postgres's text, to the microsecond. */
  dueAt: string;
  id: string;
}

/** How long a lone attempt write waits before its one retry after a deadlock or a lost connection. */
const RETRY_WRITE_AFTER_MS = 50;

/** Filters of an endpoint's delivery log. */
export interface MessageListFilter {
  status?: WebhookMessageStatus;
  eventType?: string;
}

/** The SQL of `webhook_messages` and `webhook_attempts`. */
@Injectable()
export class WebhookMessagesRepository {
  private readonly loader = new TurnBatcher<string, DeliverableMessage | null>((ids) => this.loadMany(ids));
  private readonly writer = new TurnBatcher<AttemptRecord, RecordedAttempt | null | Error>((records) => this.recordBatchOrEach(records));

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
              e.previous_secret_expires_at AS "previousSecretExpiresAt"
         FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id
        WHERE m.id = ANY($1::uuid[])`,
      [ids],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /**
   * Writes an attempt and the message's new state, only if no other attempt got there
   * first (the message still has `attemptNo - 1` attempts). Returns null when it had.
   * A message no longer pending (failed meanwhile) is not made pending again.
   * Concurrent calls share one statement (group commit), so busy workers need few connections.
   */
  async recordAttempt(a: AttemptRecord): Promise<RecordedAttempt | null> {
    const written = await this.writer.run(a);
    if (written instanceof Error) throw written;
    return written;
  }

  /**
   * One statement for the batch; if it fails, each attempt is written on its own. The
   * attempts are already answered: a failed write fails its job, whose retry POSTs again,
   * so one deadlock, one dropped connection or one unwritable record must not send up to
   * a whole batch of messages twice. A lone write is retried once after a deadlock, a
   * serialization failure or a lost connection; once Postgres is found unreachable the
   * rest of the batch fails at once (each would wait for its own connection timeout).
   */
  private async recordBatchOrEach(all: AttemptRecord[]): Promise<Array<RecordedAttempt | null | Error>> {
    try {
      return await this.recordMany(all);
    } catch (batchErr) {
      if (all.length === 1) return [await this.retryAlone(all[0], batchErr)];
      const out: Array<RecordedAttempt | null | Error> = [];
      let unreachable: Error | null = null;
      for (const a of all) {
        if (unreachable) {
          out.push(unreachable);
          continue;
        }
        let written: RecordedAttempt | null | Error;
        try {
          written = (await this.recordMany([a]))[0];
        } catch (err) {
          written = await this.retryAlone(a, err);
        }
        if (written instanceof Error && isDatabaseUnavailable(written)) unreachable = written;
        out.push(written);
      }
      return out;
    }
  }

  /** One more try of a lone write that failed for a reason that may pass; else its error. */
  private async retryAlone(a: AttemptRecord, err: unknown): Promise<RecordedAttempt | null | Error> {
    if (!isRetryableWriteError(err)) return asError(err);
    await sleep(RETRY_WRITE_AFTER_MS);
    try {
      return (await this.recordMany([a]))[0];
    } catch (again) {
      return asError(again);
    }
  }

  private async recordMany(all: AttemptRecord[]): Promise<Array<RecordedAttempt | null>> {
    // In message-id order, so two batches never lock the same rows in opposite orders.
    const batch = [...all].sort((x, y) => (x.messageId < y.messageId ? -1 : x.messageId > y.messageId ? 1 : 0));
    const col = <K extends keyof AttemptRecord>(k: K) => batch.map((a) => a[k]);
    const rows: Array<{ message_id: string; endpoint_failing: boolean }> = await this.db.query(
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
          RETURNING m.id, m.endpoint_id),
       ins AS (
         INSERT INTO webhook_attempts (id, message_id, attempt_no, trigger, started_at, status_code, latency_ms, response_body, error)
         SELECT v.attempt_id, v.message_id, v.attempt_no, v.trigger, v.started_at, v.status_code, v.latency_ms, v.response_body, v.error
           FROM v JOIN upd ON upd.id = v.message_id
         RETURNING message_id)
       -- Whether the endpoint is failing now, not when the message was loaded: a 2xx clears
       -- a failure recorded by another message meanwhile.
       SELECT ins.message_id, e.failing_since IS NOT NULL AS endpoint_failing
         FROM ins JOIN upd ON upd.id = ins.message_id JOIN webhook_endpoints e ON e.id = upd.endpoint_id`,
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
    const recorded = new Map(rows.map((r) => [r.message_id, { endpointFailing: r.endpoint_failing }]));
    return all.map((a) => recorded.get(a.messageId) ?? null);
  }

  /** Moves a pending message's due time (its attempt `attemptNo` waits for a slot of its endpoint). */
  async postpone(id: string, attemptNo: number, at: Date): Promise<void> {
    await this.db.query(`UPDATE webhook_messages SET next_attempt_at = $3 WHERE id = $1 AND status = 'pending' AND attempts = $2::int - 1`, [id, attemptNo, at]);
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

  /**
   * Pending messages due more than `overdueMs` ago (their job may be lost), in due order
   * from `after` (the sweeper walks through all of them, a page at a time).
   */
  async findOverdue(overdueMs: number, limit: number, after: OverdueCursor | null = null): Promise<Array<{ id: string; attempts: number; dueAt: string }>> {
    const rows: Array<{ id: string; attempts: number; due_at: string }> = await this.db.query(
      `SELECT id, attempts, next_attempt_at::text AS due_at FROM webhook_messages
        WHERE status = 'pending' AND next_attempt_at < now() - ($1::int * interval '1 millisecond')
          AND ($3::timestamptz IS NULL OR (next_attempt_at, id) > ($3::timestamptz, $4::uuid))
        ORDER BY next_attempt_at, id LIMIT $2`,
      [overdueMs, limit, after?.dueAt ?? null, after?.id ?? null],
    );
    return rows.map((r) => ({ id: r.id, attempts: r.attempts, dueAt: r.due_at }));
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

  /**
   * Locks every message of these events until `em`'s transaction ends and returns the
   * events that have one still pending (being delivered or retried). Under the lock no
   * resend or recover can make a message pending again before the caller deletes the
   * others (it waits, then finds the message gone); one made pending just before is seen.
   */
  async lockEventsWithPending(eventIds: string[], em: EntityManager): Promise<Set<string>> {
    if (eventIds.length === 0) return new Set();
    const rows: Array<{ event_id: string; status: string }> = await em.query(
      `SELECT event_id, status FROM webhook_messages WHERE event_id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
      [eventIds],
    );
    return new Set(rows.filter((r) => r.status === WebhookMessageStatus.Pending).map((r) => r.event_id));
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

/** A deadlock, a serialization failure, or Postgres unreachable / the connection lost: the same write may pass. */
function isRetryableWriteError(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.code ?? e?.driverError?.code;
  return code === '40P01' || code === '40001' || isDatabaseUnavailable(err);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
