/** Zoom webhook event names the hub acts on (rtms-protocol.md §1). */
export const RTMS_STARTED_EVENTS = new Set([
  'meeting.rtms_started',
  'webinar.rtms_started',
  'session.rtms_started',
  'contact_center.voice_rtms_started',
]);
export const RTMS_STOPPED_EVENTS = new Set([
  'meeting.rtms_stopped',
  'webinar.rtms_stopped',
  'session.rtms_stopped',
  'contact_center.voice_rtms_stopped',
]);
export const RTMS_INTERRUPTED_EVENTS = new Set([
  'meeting.rtms_interrupted',
  'webinar.rtms_interrupted',
  'session.rtms_interrupted',
  'contact_center.voice_rtms_interrupted',
]);
export const CONCURRENCY_EVENTS = new Set([
  'rtms.concurrency_limited',
  'rtms.concurrency_near_limit',
  'meeting.rtms_concurrency_limited',
]);
/** A participant joined (not an RTMS event): carries their email, which RTMS does not (erasure by email). */
export const PARTICIPANT_JOINED_EVENTS = new Set(['meeting.participant_joined', 'webinar.participant_joined']);
export const URL_VALIDATION_EVENT = 'endpoint.url_validation';
export const APP_DEAUTHORIZED_EVENT = 'app_deauthorized';

export type ZoomProductName = 'meeting' | 'webinar' | 'video_sdk' | 'contact_center';

/** The product an event belongs to, from its prefix. */
export function productOfEvent(event: string): ZoomProductName {
  if (event.startsWith('webinar.')) return 'webinar';
  if (event.startsWith('session.')) return 'video_sdk';
  if (event.startsWith('contact_center.')) return 'contact_center';
  return 'meeting';
}

/**
 * The id Zoom signs handshakes with and that identifies the meeting: meeting_uuid,
 * webinar_uuid (accept either for webinars), session_id (Video SDK), engagement_id (ZCC).
 */
export function meetingIdentityOf(payload: Record<string, unknown>): string | null {
  for (const key of ['meeting_uuid', 'webinar_uuid', 'session_id', 'engagement_id']) {
    const v = payload[key];
    if (typeof v === 'string' && v.length > 0) return v;
  }
  return null;
}
