import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { PageQuery } from './dto/list-sessions.query';
import { EventProcessingStatus, SessionEventEntity } from './entities/session-event.entity';
import {decodeCursor, Page } from '../../common/http/pagination';
import { keysetToPage } from '../../common/http/keyset-page';
import { PendingZoomEvent, RecordEventInput, SessionEventsRepository, StoredZoomEventInput } from './repositories/session-events.repository';
import { SessionsRepository } from './repositories/sessions.repository';
import { eventView } from './session.views';
import { SessionNotFoundError } from './sessions.errors';

export type { PendingZoomEvent, RecordEventInput, StoredZoomEventInput } from './repositories/session-events.repository';

/**
 * Session events: the inbox of verified Zoom events (stored before they are
 * acknowledged, then processed by the zoom-events job) and the sessions' timeline.
 */
@Injectable()
export class SessionEventsService {
  constructor(
    private readonly events: SessionEventsRepository,
    private readonly sessions: SessionsRepository,
  ) {}

  // ───────────── Zoom-event inbox ─────────────

  /**
   * Stores verified Zoom events under their dedupe keys in one statement. Returns, per
   * input in order, the new row's id, or null when that event was stored before (a
   * redelivery) or appears earlier in the same batch.
   */
  storeZoomEvents(inputs: StoredZoomEventInput[]): Promise<Array<string | null>> {
    return this.events.insertZoomEvents(inputs);
  }

  getEvent(id: string): Promise<SessionEventEntity | null> {
    return this.events.findById(id);
  }

  /**
   * Stored Zoom events still waiting for processing (their job may have been lost), oldest
   * first, a page at a time: pass the last one of a page as `after` for the next.
   */
  pendingZoomEvents(olderThanMs: number, limit: number, after?: PendingZoomEvent): Promise<PendingZoomEvent[]> {
    return this.events.findReceivedZoomEvents(olderThanMs, limit, after);
  }

  /** Closes a stored event: processed, ignored, rejected or failed, with its session (and its payload replaced, to keep less of it). */
  finishEvent(id: string, status: EventProcessingStatus, fields: { sessionId?: string | null; error?: string | null; payload?: Record<string, unknown> } = {}): Promise<void> {
    return this.events.markFinished(id, status, fields);
  }

  // ───────────── timeline ─────────────

  /** Records something that happened to a session (or to no session yet: null). */
  recordEvent(sessionId: string | null, input: RecordEventInput, em?: EntityManager): Promise<SessionEventEntity> {
    return this.events.insert(sessionId, input, em);
  }

  /** The session's timeline events of these types, oldest first. */
  eventsOfTypes(sessionId: string, types: readonly string[]) {
    return this.events.findTypesForSession(sessionId, types);
  }

  async listEvents(sessionId: string, query: PageQuery): Promise<Page<ReturnType<typeof eventView>>> {
    if (!(await this.sessions.findById(sessionId))) throw new SessionNotFoundError(sessionId);
    const limit = query.limit ?? 50;
    const rows = await this.events.findPageForSession(sessionId, limit, decodeCursor(query.cursor));
    return keysetToPage(rows, limit, eventView);
  }
}
