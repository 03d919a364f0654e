/**
 * The catalogue of app events (docs/webhooks.md has an example of each). The string
 * values are what apps subscribe to and receive as `type`: renaming one breaks apps.
 */
export enum AppEventType {
  SessionCreated = 'session.created',
  SessionStatusChanged = 'session.status_changed',
  ParticipantJoined = 'participant.joined',
  ParticipantLeft = 'participant.left',
  TranscriptSegment = 'transcript.segment',
  RecordingReady = 'recording.ready',
  MediaDeleted = 'media.deleted',
  ZoomRoomJoined = 'zoom_room.joined',
  ZoomRoomLeft = 'zoom_room.left',
  ZoomRoomFailed = 'zoom_room.failed',
  OAuthReauthorizationRequired = 'oauth.connection.reauthorization_required',
  OAuthRevoked = 'oauth.connection.revoked',
  /** The test send of POST /webhook-endpoints/:id/test (to that endpoint only). */
  Ping = 'ping',
}

export const APP_EVENT_TYPES: readonly AppEventType[] = Object.values(AppEventType);

/** Delivered only to endpoints that list them by name (a wildcard does not include them): they are many. */
export const OPT_IN_EVENT_TYPES: ReadonlySet<AppEventType> = new Set([AppEventType.TranscriptSegment]);

/** An endpoint's `events` may hold this to mean every type except the opt-in ones. */
export const ALL_EVENTS = '*';

export function isAppEventType(value: string): value is AppEventType {
  return (APP_EVENT_TYPES as readonly string[]).includes(value);
}

/** Whether an endpoint subscribed to `events` receives an event of `type`. */
export function subscribes(events: readonly string[], type: AppEventType): boolean {
  if (type === AppEventType.Ping) return false; // a ping goes only to the endpoint tested
  return events.includes(type) || (events.includes(ALL_EVENTS) && !OPT_IN_EVENT_TYPES.has(type));
}

/** What a producer records; the service adds `session_id` and `sequence` to `data`. */
export interface AppEventInput {
  type: AppEventType;
  /** The session the event is about (null/undefined: none, e.g. an OAuth connection). */
  sessionId?: string | null;
  data: Record<string, unknown>;
}

/** An event as stored and delivered: the envelope is `{type, id, timestamp, data}`. */
export interface AppEvent {
  id: string;
  type: AppEventType;
  sessionId: string | null;
  sequence: number | null;
  data: Record<string, unknown>;
  createdAt: Date;
}
