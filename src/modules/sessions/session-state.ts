import { SessionStatus } from './entities/session.entity';

/**
 * The session status machine:
 *   created → rtms_start_requested → streaming ⇄ paused → stopped | failed
 * A session that failed to start may be asked to start again; stopped is final (a new
 * RTMS start on the same meeting after a stop gets a new stream and a new session).
 */
export const SESSION_TRANSITIONS: Record<SessionStatus, readonly SessionStatus[]> = {
  [SessionStatus.Created]: [SessionStatus.RtmsStartRequested, SessionStatus.Streaming, SessionStatus.Stopped, SessionStatus.Failed],
  [SessionStatus.RtmsStartRequested]: [SessionStatus.Streaming, SessionStatus.Stopped, SessionStatus.Failed],
  [SessionStatus.Streaming]: [SessionStatus.Paused, SessionStatus.Stopped, SessionStatus.Failed],
  [SessionStatus.Paused]: [SessionStatus.Streaming, SessionStatus.Stopped, SessionStatus.Failed],
  [SessionStatus.Stopped]: [],
  [SessionStatus.Failed]: [SessionStatus.RtmsStartRequested],
};

export function canTransition(from: SessionStatus, to: SessionStatus): boolean {
  return SESSION_TRANSITIONS[from].includes(to);
}

export const TERMINAL_STATUSES: readonly SessionStatus[] = [SessionStatus.Stopped];
