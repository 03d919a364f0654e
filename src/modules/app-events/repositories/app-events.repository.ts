import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../../database/returning-rows';
import { AppEvent, AppEventType } from '../app-event-types';

interface EventRow {
  id: string;
  type: string;
  session_id: string | null;
  sequence: string | null;
  data: Record<string, unknown>;
  created_at: Date;
}

const toEvent = (r: EventRow): AppEvent => ({
  id: r.id,
  type: r.type as AppEventType,
  sessionId: r.session_id,
  sequence: r.sequence === null ? null : Number(r.sequence),
  data: r.data,
  createdAt: r.created_at,
});

/** The SQL of `app_events` and `app_event_sequences`. */
@Injectable()
export class AppEventsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Reserves `count` consecutive sequence numbers per session in one statement, locking
   * the counters in session-id order (so two transactions reserving for the same sessions
   * cannot deadlock) until the caller's transaction ends, so two events of one session
   * never share a number. Returns the first number reserved per session.
   */
  async reserveSequences(counts: Map<string, number>, em: EntityManager = this.db.manager): Promise<Map<string, number>> {
    if (counts.size === 0) return new Map();
    const ids = [...counts.keys()].sort();
    const rows: Array<{ session_id: string; last_sequence: string }> = await em.query(
      `INSERT INTO app_event_sequences (session_id, last_sequence)
       SELECT u.session_id, u.n FROM unnest($1::uuid[], $2::bigint[]) AS u(session_id, n) ORDER BY u.session_id
       ON CONFLICT (session_id) DO UPDATE SET last_sequence = app_event_sequences.last_sequence + EXCLUDED.last_sequence
       RETURNING session_id, last_sequence`,
      [ids, ids.map((id) => String(counts.get(id)))],
    );
    return new Map(rows.map((r) => [r.session_id, Number(r.last_sequence) - (counts.get(r.session_id) ?? 1) + 1]));
  }

  /** Inserts several events in one statement. */
  async insertMany(events: Array<Omit<AppEvent, 'createdAt'>>, em: EntityManager = this.db.manager): Promise<void> {
    if (events.length === 0) return;
    await em.query(
      `INSERT INTO app_events (id, type, session_id, sequence, data)
       SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::uuid[], $4::bigint[], $5::jsonb[])`,
      [
        events.map((e) => e.id),
        events.map((e) => e.type),
        events.map((e) => e.sessionId),
        events.map((e) => (e.sequence === null ? null : String(e.sequence))),
        events.map((e) => JSON.stringify(e.data)),
      ],
    );
  }

  async insert(event: Omit<AppEvent, 'createdAt'>, em: EntityManager = this.db.manager): Promise<AppEvent> {
    const rows: EventRow[] = await em.query(
      `INSERT INTO app_events (id, type, session_id, sequence, data) VALUES ($1, $2, $3, $4, $5)
       RETURNING id, type, session_id, sequence, data, created_at`,
      [event.id, event.type, event.sessionId, event.sequence, JSON.stringify(event.data)],
    );
    return toEvent(rows[0]);
  }

  async findById(id: string): Promise<AppEvent | null> {
    const rows: EventRow[] = await this.db.query(`SELECT id, type, session_id, sequence, data, created_at FROM app_events WHERE id = $1`, [id]);
    return rows[0] ? toEvent(rows[0]) : null;
  }

  /**
   * Locks the event against deletion until the caller's transaction ends (FOR KEY SHARE:
   * marking it fanned out still can). False when it is gone — or was deleted by a
   * transaction this one waited for: a session's deletion or an erasure took it.
   */
  async lockIfPresent(id: string, em: EntityManager): Promise<boolean> {
    const rows: Array<{ id: string }> = await em.query(`SELECT id FROM app_events WHERE id = $1 FOR KEY SHARE`, [id]);
    return rows.length > 0;
  }

  /** Marks the event fanned out (its messages exist). */
  async markFannedOut(id: string, em: EntityManager = this.db.manager): Promise<void> {
    await em.query(`UPDATE app_events SET fanned_out_at = now() WHERE id = $1 AND fanned_out_at IS NULL`, [id]);
  }

  /** Events older than `olderThanMs` whose fan-out never ran (their job was lost), oldest first. */
  async findNotFannedOut(olderThanMs: number, limit: number): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.db.query(
      `SELECT id FROM app_events WHERE fanned_out_at IS NULL AND created_at < now() - ($1::int * interval '1 millisecond') ORDER BY created_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => r.id);
  }

  // ───────────── retention (docs/retention.md) ─────────────

  /**
   * Deletes a session's events of these types (`only`) or of every type but these
   * (`except`), up to `limit` (null: all) per call; returns the ids deleted.
   */
  async deleteOfSession(sessionId: string, types: { only?: readonly string[]; except?: readonly string[] }, limit: number | null, em: EntityManager): Promise<string[]> {
    const rows = await returningRows<{ id: string }>(
      em.query(
        `DELETE FROM app_events WHERE id IN (
           SELECT id FROM app_events WHERE session_id = $1
              AND ($2::varchar[] IS NULL OR type = ANY($2::varchar[])) AND ($3::varchar[] IS NULL OR type <> ALL($3::varchar[]))
            LIMIT $4::int)
         RETURNING id`,
        [sessionId, types.only ?? null, types.except ?? null, limit],
      ),
    );
    return rows.map((r) => r.id);
  }

  /** Deletes a session's events whose data carries one of these user ids (any `user_id` member); returns their ids. */
  async deleteOfUsers(sessionId: string, userIds: string[], em: EntityManager): Promise<string[]> {
    const rows = await returningRows<{ id: string }>(
      em.query(
        `DELETE FROM app_events WHERE session_id = $1
            AND EXISTS (SELECT 1 FROM jsonb_path_query(data, 'lax $.**.user_id') AS u(v) WHERE u.v #>> '{}' = ANY($2::text[]))
         RETURNING id`,
        [sessionId, userIds],
      ),
    );
    return rows.map((r) => r.id);
  }

  /**
   * Up to `limit` events recorded more than `days` ago, after `after` in (created_at, id)
   * order (IDX_app_events_created_at_id). `createdAt` is Postgres's text, to the
   * microsecond: a Date cut to the millisecond made the cursor fall behind the page's
   * last row, so a kept-back event was read again on every page.
   */
  async findOlderThan(days: number, after: { createdAt: string; id: string } | null, limit: number): Promise<Array<{ id: string; createdAt: string }>> {
    const rows: Array<{ id: string; created_at: string }> = await this.db.query(
      `SELECT id, created_at::text AS created_at FROM app_events
        WHERE created_at < now() - make_interval(secs => $1::float8)
          AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
        ORDER BY created_at, id LIMIT $4::int`,
      [days * 86400, after?.createdAt ?? null, after?.id ?? null, limit],
    );
    return rows.map((r) => ({ id: r.id, createdAt: r.created_at }));
  }

  /**
   * Locks those of these events that were fanned out (their messages exist) until `em`'s
   * transaction ends, and returns their ids. An event still waiting for its fan-out is
   * left out: it has not been announced yet. A fan-out in progress is waited for.
   */
  async lockFannedOut(ids: string[], em: EntityManager): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows: Array<{ id: string }> = await em.query(`SELECT id FROM app_events WHERE id = ANY($1::uuid[]) AND fanned_out_at IS NOT NULL ORDER BY id FOR UPDATE`, [ids]);
    return rows.map((r) => r.id);
  }

  async deleteByIds(ids: string[], em: EntityManager): Promise<number> {
    if (ids.length === 0) return 0;
    return (await returningRows<{ id: string }>(em.query(`DELETE FROM app_events WHERE id = ANY($1::uuid[]) RETURNING id`, [ids]))).length;
  }

  /** Up to `limit` sessions (after `after`, in id order) whose sequence counter has no event left. */
  async findIdleSequences(after: string | null, limit: number): Promise<string[]> {
    const rows: Array<{ session_id: string }> = await this.db.query(
      `SELECT q.session_id FROM app_event_sequences q
        WHERE ($1::uuid IS NULL OR q.session_id > $1::uuid) AND NOT EXISTS (SELECT 1 FROM app_events e WHERE e.session_id = q.session_id)
        ORDER BY q.session_id LIMIT $2::int`,
      [after, limit],
    );
    return rows.map((r) => r.session_id);
  }

  /** Deletes these sessions' sequence counters, each only while it still has no event. */
  async deleteIdleSequences(sessionIds: string[]): Promise<number> {
    if (sessionIds.length === 0) return 0;
    const rows = await returningRows<{ session_id: string }>(
      this.db.query(
        `DELETE FROM app_event_sequences q WHERE q.session_id = ANY($1::uuid[]) AND NOT EXISTS (SELECT 1 FROM app_events e WHERE e.session_id = q.session_id)
         RETURNING q.session_id`,
        [sessionIds],
      ),
    );
    return rows.length;
  }
}
