import { SessionStatus } from './entities/session.entity';

/** The fields of a session its retention clock depends on. */
export interface RetentionClockInput {
  status: SessionStatus;
  startedAt: Date | null;
  endedAt: Date | null;
  createdAt: Date;
}

/**
 * When a session's retention clock started (docs/retention.md): its end once it has
 * stopped or failed; its creation while it never streamed; null (never purged) while it
 * streams, is paused, or was asked to start again after streaming.
 */
export function retentionClockFrom(s: RetentionClockInput): Date | null {
  if (s.status === SessionStatus.Stopped || s.status === SessionStatus.Failed) return s.endedAt ?? s.createdAt;
  if (s.startedAt === null && (s.status === SessionStatus.Created || s.status === SessionStatus.RtmsStartRequested)) return s.createdAt;
  return null;
}
