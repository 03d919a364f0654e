import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { SessionEntity } from './entities/session.entity';
import { DueSession, RetentionCategory, SessionRetentionRepository } from './repositories/session-retention.repository';

/**
 * The sessions module's part of the retention sweep (retention module): which sessions
 * are due, their row lock, their events and participants, the purge markers and, last,
 * the row itself. The sweep decides; this only reads and deletes what sessions owns.
 */
@Injectable()
export class SessionRetentionService {
  constructor(private readonly repo: SessionRetentionRepository) {}

  findDue(category: RetentionCategory, configDays: number, limit: number): Promise<DueSession[]> {
    return this.repo.findDue(category, configDays, limit);
  }

  lockForPurge(id: string, em: EntityManager): Promise<SessionEntity | null> {
    return this.repo.lockForPurge(id, em);
  }

  /**
   * Of these sessions, those whose retention purged a category, with the categories: media
   * that reaches a saver after its category was purged (a batch held back longer than the
   * retention) is refused, as the purge is never run again. A new capture clears them.
   */
  purgedOf(ids: string[]): Promise<Map<string, Set<RetentionCategory>>> {
    return this.repo.purgedOf(ids);
  }

  markPurged(id: string, category: RetentionCategory, em: EntityManager): Promise<void> {
    return this.repo.markPurged(id, category, em);
  }

  deleteEventsBatch(sessionId: string, limit: number, em: EntityManager): Promise<number> {
    return this.repo.deleteEventsBatch(sessionId, limit, em);
  }

  /** Age-based: events no session claimed (docs/retention.md "Unlinked events"). */
  deleteUnlinkedEventsBatch(days: number, limit: number, em?: EntityManager): Promise<number> {
    return this.repo.deleteUnlinkedEventsBatch(days, limit, em);
  }

  deleteParticipantsBatch(sessionId: string, limit: number, em: EntityManager): Promise<number> {
    return this.repo.deleteParticipantsBatch(sessionId, limit, em);
  }

  deleteSession(id: string, em: EntityManager): Promise<boolean> {
    return this.repo.deleteSession(id, em);
  }
}
