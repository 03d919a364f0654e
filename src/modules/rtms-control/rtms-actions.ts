import { JobName } from '../../jobs/job-names';
import { SessionStatus } from '../sessions';
import { RtmsAction } from './entities/rtms-control-request.entity';

export interface ActionRule {
  job: JobName.RtmsStart | JobName.RtmsStop | JobName.RtmsPause | JobName.RtmsResume;
  /** Session statuses in which the action makes sense. */
  from: readonly SessionStatus[];
  /** Where the session goes once Zoom accepted the request. */
  to: SessionStatus;
}

/**
 * What each RTMS action needs and does (status machine in sessions/session-state.ts).
 * Zoom confirms asynchronously (rtms_started / rtms_stopped webhooks, stream state 5/6);
 * those later moves to the same status are no-ops.
 */
export const RTMS_ACTIONS: Record<RtmsAction, ActionRule> = {
  // Again from rtms_start_requested too: Zoom accepted a start that never streamed (the app
  // not running for that user, a concurrency limit) and the session would wait for good.
  start: { job: JobName.RtmsStart, from: [SessionStatus.Created, SessionStatus.Failed, SessionStatus.RtmsStartRequested], to: SessionStatus.RtmsStartRequested },
  stop: { job: JobName.RtmsStop, from: [SessionStatus.RtmsStartRequested, SessionStatus.Streaming, SessionStatus.Paused], to: SessionStatus.Stopped },
  pause: { job: JobName.RtmsPause, from: [SessionStatus.Streaming], to: SessionStatus.Paused },
  resume: { job: JobName.RtmsResume, from: [SessionStatus.Paused], to: SessionStatus.Streaming },
};

export const RTMS_ACTION_NAMES = Object.keys(RTMS_ACTIONS) as RtmsAction[];

export function actionOfJob(name: string): RtmsAction | undefined {
  return RTMS_ACTION_NAMES.find((a) => RTMS_ACTIONS[a].job === name);
}

/** RTMS_STOP_REASON 25: MANUAL_API_TRIGGERED (rtms-protocol.md §4). */
export const STOP_REASON_MANUAL_API = 25;
