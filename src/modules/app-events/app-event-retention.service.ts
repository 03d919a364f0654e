import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AppEventType } from './app-event-types';
import { AppEventsRepository } from './repositories/app-events.repository';

/**
 * What a session's purge or deletion takes from the outbox (docs/retention.md): the
 * transcript lines go with its transcript, everything else with its events, except
 * media.deleted — it announces the deletion itself and carries no personal data, so it is
 * left to go out, and to age.
 */
export type SessionOutboxScope = 'transcript' | 'events' | 'all';

const SCOPES: Record<SessionOutboxScope, { only?: readonly string[]; except?: readonly string[] }> = {
  transcript: { only: [AppEventType.TranscriptSegment] },
  events: { except: [AppEventType.TranscriptSegment, AppEventType.MediaDeleted] },
  all: { except: [AppEventType.MediaDeleted] },
};

/**
 * The app-events module's part of retention and erasure: deleting a session's or a
 * person's events, and the age-based pruning of the outbox. Callers delete the webhook
 * messages of the ids returned (app-webhooks owns them).
 */
@Injectable()
export class AppEventRetentionService {
  constructor(
    private readonly events: AppEventsRepository,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  deleteOfSession(sessionId: string, scope: SessionOutboxScope, limit: number | null, em: EntityManager): Promise<string[]> {
    return this.events.deleteOfSession(sessionId, SCOPES[scope], limit, em);
  }

  /** A person's events in a session: their transcript lines, their joins and leaves (any `user_id` in the data). */
  deleteOfUsers(sessionId: string, userIds: string[], em: EntityManager): Promise<string[]> {
    return this.events.deleteOfUsers(sessionId, userIds, em);
  }

  findOlderThan(days: number, after: { createdAt: string; id: string } | null, limit: number) {
    return this.events.findOlderThan(days, after, limit);
  }

  /** Locks the fanned-out ones of these events (in `em`'s transaction) and returns their ids. */
  lockFannedOut(ids: string[], em: EntityManager): Promise<string[]> {
    return this.events.lockFannedOut(ids, em);
  }

  deleteByIds(ids: string[], em: EntityManager = this.db.manager): Promise<number> {
    return this.events.deleteByIds(ids, em);
  }

  findIdleSequences(after: string | null, limit: number): Promise<string[]> {
    return this.events.findIdleSequences(after, limit);
  }

  deleteIdleSequences(sessionIds: string[]): Promise<number> {
    return this.events.deleteIdleSequences(sessionIds);
  }
}
