import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { isZeroRetention } from './capture-policy';
import { PersonRef } from './payload-match';
import { ParticipantLookupRepository, ParticipantRef, SessionErasureFacts, TimelineErasure } from './repositories/participant-lookup.repository';
import { SessionsRepository } from './repositories/sessions.repository';

/** Longest email stored (RFC 5321 path limit, rounded up to the column). */
export const PARTICIPANT_EMAIL_MAX = 320;

/**
 * Who was in which session, as erasure by participant asks it (docs/retention.md
 * "Erasure"), and the participant emails Zoom's meeting.participant_joined webhook gives
 * (RTMS carries none).
 */
@Injectable()
export class ParticipantDirectory {
  constructor(
    private readonly lookup: ParticipantLookupRepository,
    private readonly sessions: SessionsRepository,
  ) {}

  byUserId(userId: string): Promise<ParticipantRef[]> {
    return this.lookup.byUserId(userId);
  }

  byUserName(nfcName: string): Promise<ParticipantRef[]> {
    return this.lookup.byUserName(nfcName);
  }

  /** `email` already normalised (trimmed, lower-cased). */
  byEmail(email: string): Promise<ParticipantRef[]> {
    return this.lookup.byEmail(email);
  }

  sessionFacts(sessionIds: string[]): Promise<SessionErasureFacts[]> {
    return this.lookup.facts(sessionIds);
  }

  /** See ParticipantLookupRepository.lockFacts. Needs a transaction. */
  lockSessionFacts(sessionId: string, em: EntityManager): Promise<SessionErasureFacts | null> {
    return this.lookup.lockFacts(sessionId, em);
  }

  deleteParticipants(sessionId: string, userIds: string[], em: EntityManager): Promise<number> {
    return this.lookup.deleteParticipants(sessionId, userIds, em);
  }

  /**
   * Takes these users (and, by name, `nfcName`) out of the session's timeline: Zoom's
   * and the stream workers' events about them deleted, lists naming others redacted.
   * Needs a transaction.
   */
  eraseEventsOfUsers(sessionId: string, userIds: string[], nfcName: string | null, em: EntityManager): Promise<TimelineErasure> {
    return this.lookup.eraseEventsOfUsers(sessionId, userIds, nfcName, em);
  }

  /** Up to `limit` events of no session whose payload is about the person. */
  deleteUnlinkedEventsOf(person: PersonRef, limit: number, em: EntityManager): Promise<number> {
    return this.lookup.deleteUnlinkedEventsOf(person, limit, em);
  }

  /** The open session bound to a meeting uuid (the newest), or null; zero retention keeps nothing of its participants. */
  async openSessionOf(meetingUuid: string): Promise<{ id: string; zeroRetention: boolean } | null> {
    const session = await this.sessions.findLatestOpenByMeetingUuid(meetingUuid);
    return session ? { id: session.id, zeroRetention: isZeroRetention(session.capturePolicy) } : null;
  }

  /** meeting.participant_joined: keeps the participant's email on their row of the session. */
  async recordEmail(sessionId: string, zoomUserId: string, email: string, userName: string | null): Promise<void> {
    await this.lookup.recordEmail(sessionId, zoomUserId, normaliseEmail(email), userName);
  }
}

/** Emails are matched case-insensitively: stored and looked up trimmed and lower-cased. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
