import { JobName } from './job-names';
import { JobOf } from './job-payloads';

/**
 * Deterministic job ids, one function per job that has one, built from the payload.
 * An id makes a repeated enqueue (a redelivered webhook, a crash between a Zoom call
 * and the row update) a no-op while the first job exists; code that finds a job again
 * (to cancel a delayed leave, say) builds the same id here. Changing one strands
 * queued jobs' dedupe.
 */
export const JOB_IDS: { [N in JobName]?: (data: JobOf<N>) => string | undefined } = {
  [JobName.ZoomEventProcess]: (d) => `zoom-event-${d.eventId}`,
  // The request row is the job: its id is the Idempotency-Key's answer.
  [JobName.RtmsStart]: (d) => d.requestId,
  [JobName.RtmsStop]: (d) => d.requestId,
  [JobName.RtmsPause]: (d) => d.requestId,
  [JobName.RtmsResume]: (d) => d.requestId,
  // One stream job per rtms_stream_id, however often rtms_started arrives.
  [JobName.StreamRun]: (d) => d.rtmsStreamId,
  [JobName.MediaPurge]: (d) => (d.pass === 2 ? `media-purge-2-${d.rtmsStreamId}` : `media-purge-${d.rtmsStreamId}`),
  // Only the deadline has an id (one per session); a plain check may run any number of times.
  [JobName.RecordingCheck]: (d) => (d.deadline ? `recording-deadline-${d.sessionId}` : undefined),
  [JobName.RoomJoin]: (d) => (d.round === undefined ? undefined : `room-join-${d.dispatchId}-${d.round}`),
  [JobName.RoomLeave]: (d) => (d.round === undefined ? undefined : `room-leave-${d.dispatchId}-${d.round}`),
  [JobName.RoomsAutoDispatch]: (d) => `rooms-auto-dispatch-${d.sessionId}`,
  // One per session (queued again with requeue: each meeting-ended stop runs it again, idempotently).
  [JobName.RoomsMeetingEnded]: (d) => `rooms-meeting-ended-${d.sessionId}`,
  // Per event, not per user: a user who comes back and leaves again is removed again.
  [JobName.OAuthDeauthorize]: (d) => `oauth-deauthorize-${d.eventId}`,
  [JobName.AppEventFanout]: (d) => `app-event-${d.eventId}`,
  // One job per attempt: a re-queue of an attempt already queued is a no-op.
  [JobName.WebhookDeliver]: (d) => `webhook-${d.messageId}-${d.attempt}`,
  // One job per erasure request: asking again while it runs is a no-op.
  [JobName.ErasureRun]: (d) => `erasure-${d.erasureId}`,
  // One job per session and revision: the capture-complete check may run several times (one job), and each re-compose asked for is its own.
  [JobName.RecordingCompose]: (d) => `recording-compose-${d.sessionId}-${d.revision === 'auto' ? 'auto' : `r${d.revision}`}`,
  [JobName.TokenRefresh]: (d) => (d.tokenVersion === undefined ? undefined : `token-refresh-${d.connectionId}-v${d.tokenVersion}`),
};

/** The id a job with this payload gets (undefined: BullMQ picks one). */
export function jobIdFor<N extends JobName>(name: N, data: JobOf<N>): string | undefined {
  const build = JOB_IDS[name] as ((d: JobOf<N>) => string | undefined) | undefined;
  return build?.(data);
}
