import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { EventProcessingStatus, EventSource, SessionEventEntity } from '../entities/session-event.entity';
import { keysetPage, Keyed } from '../../../common/http/keyset-page';
import { Cursor } from '../../../common/http/pagination';

export interface StoredZoomEventInput {
  source: EventSource;
  eventType: string;
  dedupeKey: string;
  rtmsStreamId: string | null;
  eventTs: number | null;
  payload: Record<string, unknown>;
  /** The payload's JSON text as received, when at hand (saves serialising it again). */
  payloadJson?: string;
}

/** A stored Zoom event still waiting for processing; also the cursor of the next page. */
export interface PendingZoomEvent {
  id: string;
  /** created_at as Postgres prints it: microseconds kept (a Date would cut them, and a page could repeat). */
  createdAt: string;
}

export interface RecordEventInput {
  source: EventSource;
  eventType: string;
  payload: Record<string, unknown>;
  rtmsStreamId?: string | null;
  dedupeKey?: string;
  status?: EventProcessingStatus;
  error?: string | null;
}

/** session_events: the Zoom-event inbox and the sessions' timeline. */
@Injectable()
export class SessionEventsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(em?: EntityManager): Repository<SessionEventEntity> {
    return (em ?? this.dataSource.manager).getRepository(SessionEventEntity);
  }

  /**
   * Inserts verified Zoom events as `received` in one statement, skipping dedupe keys
   * already stored. Returns, per input in order, the new row's id, or null when that
   * key was stored before or appears earlier in the same batch.
   */
  async insertZoomEvents(inputs: StoredZoomEventInput[]): Promise<Array<string | null>> {
    if (inputs.length === 0) return [];
    const params: unknown[] = [];
    const values = inputs.map((input, i) => {
      params.push(input.source, input.eventType, input.dedupeKey, input.rtmsStreamId, input.eventTs, input.payloadJson ?? JSON.stringify(input.payload));
      const b = i * 6;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, 'received')`;
    });
    const rows: Array<{ id: string; dedupe_key: string }> = await this.dataSource.query(
      `INSERT INTO session_events (source, event_type, dedupe_key, rtms_stream_id, event_ts, payload, status)
       VALUES ${values.join(', ')}
       ON CONFLICT (dedupe_key) DO NOTHING
       RETURNING id, dedupe_key`,
      params,
    );
    const byKey = new Map(rows.map((r) => [r.dedupe_key, r.id]));
    return inputs.map((input) => {
      const id = byKey.get(input.dedupeKey) ?? null;
      byKey.delete(input.dedupeKey); // a second copy in the same batch is a duplicate
      return id;
    });
  }

  findById(id: string): Promise<SessionEventEntity | null> {
    return this.repo().findOne({ where: { id } });
  }

  /**
   * Zoom events (webhook or event WebSocket) still `received` after `olderThanMs`, oldest
   * first, one keyset page over (created_at, id): those after `after` (the last row of the
   * previous page).
   */
  async findReceivedZoomEvents(olderThanMs: number, limit: number, after?: PendingZoomEvent): Promise<PendingZoomEvent[]> {
    const rows: Array<{ id: string; created_at: string }> = await this.dataSource.query(
      `SELECT id, created_at::text AS created_at FROM session_events
        WHERE status = 'received' AND source IN ('webhook', 'event_ws') AND created_at < now() - ($1::int * interval '1 millisecond')
          AND ($3::timestamptz IS NULL OR (created_at, id) > ($3::timestamptz, $4::uuid))
        ORDER BY created_at, id LIMIT $2`,
      [olderThanMs, limit, after?.createdAt ?? null, after?.id ?? null],
    );
    return rows.map((r) => ({ id: r.id, createdAt: r.created_at }));
  }

  /** Sets an event's final status and processed_at, plus its session and error when given. */
  async markFinished(id: string, status: EventProcessingStatus, fields: { sessionId?: string | null; error?: string | null; payload?: Record<string, unknown> } = {}): Promise<void> {
    await this.repo().update(
      { id },
      {
        status,
        processedAt: new Date(),
        ...(fields.sessionId !== undefined ? { sessionId: fields.sessionId } : {}),
        ...(fields.error !== undefined ? { error: fields.error } : {}),
        ...(fields.payload !== undefined ? { payload: fields.payload as QueryDeepPartialEntity<Record<string, unknown>> } : {}),
      },
    );
  }

  /**
   * Inserts a timeline event (already processed unless a status is given); a random dedupe
   * key when none is. One INSERT … RETURNING: `save` would wrap it in a transaction of its
   * own (three round trips per event; the stream workers record several a second per
   * meeting). The returned entity carries the generated id and created_at.
   */
  async insert(sessionId: string | null, input: RecordEventInput, em?: EntityManager): Promise<SessionEventEntity> {
    const repo = this.repo(em);
    const entity = repo.create({
      sessionId,
      source: input.source,
      eventType: input.eventType,
      payload: input.payload,
      rtmsStreamId: input.rtmsStreamId ?? null,
      dedupeKey: input.dedupeKey ?? `${input.source}:${randomUUID()}`,
      status: input.status ?? EventProcessingStatus.Processed,
      error: input.error ?? null,
      processedAt: new Date(),
    });
    // (The entity type's relations do not fit insert's partial type; the row is the entity.)
    await repo.insert(entity as QueryDeepPartialEntity<SessionEventEntity>);
    return entity;
  }

  /** A session's timeline events of these types, oldest first (what a composed recording's gaps come from). */
  async findTypesForSession(sessionId: string, types: readonly string[]): Promise<Array<{ eventType: string; payload: Record<string, unknown>; createdAt: Date; rtmsStreamId: string | null }>> {
    const rows: Array<{ event_type: string; payload: Record<string, unknown>; created_at: Date; rtms_stream_id: string | null }> = await this.repo().query(
      `SELECT event_type, payload, created_at, rtms_stream_id FROM session_events WHERE session_id = $1 AND event_type = ANY($2::varchar[]) ORDER BY created_at, id`,
      [sessionId, types],
    );
    return rows.map((r) => ({ eventType: r.event_type, payload: r.payload, createdAt: r.created_at, rtmsStreamId: r.rtms_stream_id }));
  }

  /** One keyset page of a session's events, newest first: up to `limit + 1` rows (the extra one says there is more). */
  findPageForSession(sessionId: string, limit: number, cursor?: Cursor): Promise<Array<Keyed<SessionEventEntity>>> {
    return keysetPage(this.repo().createQueryBuilder('e').where('e.session_id = :sessionId', { sessionId }), 'e', limit, cursor);
  }
}
