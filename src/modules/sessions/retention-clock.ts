import { SessionStatus } from './entities/session.entity';

/** The fields of a session its retention clock depends on. */
export interface RetentionClockInput {
  status: SessionStatus;
  startedAt: Date | null;
  endedAt: Date | null;
  createdAt: Date;
  /** The clock as stored before this change of status (what a restart keeps until it streams). */
  retentionFrom: Date | null;
}

/**
 * When a session's retention clock started (docs/retention.md): its end once it has
 * stopped or failed; its creation while it never streamed; null (never purged) while it
 * streams or is paused. A session asked to start again after streaming keeps the clock
 * of the run it ended until the new run streams: a restart Zoom accepts but never
 * streams (nothing times rtms_start_requested out) must not keep that run's media for
 * ever.
 */
export function retentionClockFrom(s: RetentionClockInput): Date | null {
  if (s.status === SessionStatus.Stopped || s.status === SessionStatus.Failed) return s.endedAt ?? s.createdAt;
  if (s.startedAt === null && (s.status === SessionStatus.Created || s.status === SessionStatus.RtmsStartRequested)) return s.createdAt;
  if (s.status === SessionStatus.RtmsStartRequested) return s.retentionFrom;
  return null;
}
