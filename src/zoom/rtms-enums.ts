/**
 * RTMS protocol constants (rtms-protocol.md §2–4, Zoom's data-types reference).
 * The hub's own copy: the simulator keeps an independent one so each checks the other.
 */

export enum RtmsMessageType {
  Undefined = 0,
  SignalingHandshakeReq = 1,
  SignalingHandshakeResp = 2,
  DataHandshakeReq = 3,
  DataHandshakeResp = 4,
  EventSubscription = 5,
  EventUpdate = 6,
  ClientReadyAck = 7,
  StreamStateUpdate = 8,
  SessionStateUpdate = 9,
  SessionStateReq = 10,
  SessionStateResp = 11,
  KeepAliveReq = 12,
  KeepAliveResp = 13,
  MediaDataAudio = 14,
  MediaDataVideo = 15,
  MediaDataShare = 16,
  MediaDataTranscript = 17,
  MediaDataChat = 18,
  StreamStateReq = 19,
  StreamStateResp = 20,
  StreamCloseReq = 21,
  StreamCloseResp = 22,
  VideoSubscriptionReq = 28,
  VideoSubscriptionResp = 29,
}

/** RTMS_STOP_REASON, by number. */
export const RTMS_STOP_REASONS: Record<number, string> = {
  0: 'UNDEFINED',
  1: 'STOP_BC_HOST_TRIGGERED',
  2: 'STOP_BC_USER_TRIGGERED',
  3: 'STOP_BC_USER_LEFT',
  4: 'STOP_BC_USER_EJECTED',
  5: 'STOP_BC_HOST_DISABLED_APP',
  6: 'STOP_BC_MEETING_ENDED',
  7: 'STOP_BC_STREAM_CANCELED',
  8: 'STOP_BC_STREAM_REVOKED',
  9: 'STOP_BC_ALL_APPS_DISABLED',
  10: 'STOP_BC_INTERNAL_EXCEPTION',
  11: 'STOP_BC_CONNECTION_TIMEOUT',
  12: 'STOP_BC_INSTANCE_CONNECTION_INTERRUPTED',
  13: 'STOP_BC_SIGNAL_CONNECTION_INTERRUPTED',
  14: 'STOP_BC_DATA_CONNECTION_INTERRUPTED',
  15: 'STOP_BC_SIGNAL_CONNECTION_CLOSED_ABNORMALLY',
  16: 'STOP_BC_DATA_CONNECTION_CLOSED_ABNORMALLY',
  17: 'STOP_BC_EXIT_SIGNAL',
  18: 'STOP_BC_AUTHENTICATION_FAILURE',
  19: 'STOP_BC_AWAIT_RECONNECTION_TIMEOUT',
  20: 'STOP_BC_RECEIVER_REQUEST_CLOSE',
  21: 'STOP_BC_CUSTOMER_DISCONNECTED',
  22: 'STOP_BC_AGENT_DISCONNECTED',
  23: 'STOP_BC_ADMIN_DISABLED_APP',
  24: 'STOP_BC_KEEP_ALIVE_TIMEOUT',
  25: 'STOP_BC_MANUAL_API_TRIGGERED',
  26: 'STOP_BC_STREAMING_NOT_SUPPORTED',
};

/** STOP_BC_MEETING_ENDED: the meeting itself ended (every participant, Zoom Rooms too, is out of it). */
export const STOP_REASON_MEETING_ENDED = 6;
export const STOP_REASON_STREAM_REVOKED = 8;

export function stopReasonName(reason: number | null | undefined): string | null {
  if (reason === null || reason === undefined) return null;
  return RTMS_STOP_REASONS[reason] ?? `UNKNOWN_${reason}`;
}

/** MEDIA_DATA_TYPE bitmask (msg 3 `media_type`). */
export enum RtmsMediaBit {
  Audio = 1,
  Video = 2,
  Deskshare = 4,
  Transcript = 8,
  Chat = 16,
  All = 32,
}

/** RTMS_EVENT_TYPE (msg 6 `event.event_type`). */
export enum RtmsEventType {
  FirstPacketTimestamp = 1,
  ActiveSpeakerChange = 2,
  ParticipantJoin = 3,
  ParticipantLeave = 4,
  SharingStart = 5,
  SharingStop = 6,
  MediaConnectionInterrupted = 7,
  ParticipantVideoOn = 8,
  ParticipantVideoOff = 9,
  ChatGroupCreate = 10,
  ChatGroupDelete = 11,
  ChatGroupMembersAdd = 12,
  ChatGroupMembersDelete = 13,
  ChatGroupMemberStatusUpdate = 14,
}

/** RTMS_STREAM_STATE (msg 8 `state`). */
export enum RtmsStreamState {
  Inactive = 0,
  Active = 1,
  Interrupted = 2,
  Terminating = 3,
  Terminated = 4,
  Paused = 5,
  Resumed = 6,
}

/** RTMS_SESSION_STATE (msg 9 `state`). */
export enum RtmsSessionState {
  Inactive = 0,
  Initialize = 1,
  Started = 2,
  Paused = 3,
  Resumed = 4,
  Stopped = 5,
}

export const STOP_REASON_RECEIVER_REQUEST_CLOSE = 20;

/** RTMS_STATUS_CODE, by number (rtms-protocol.md §2; 46/47 from the JS library only). */
export const RTMS_STATUS_CODES: Record<number, string> = {
  0: 'OK',
  1: 'INVALID_MESSAGE_TYPE',
  2: 'INVALID_RTMS_STREAM_ID',
  3: 'INVALID_SIGNATURE',
  4: 'INVALID_PAYLOAD',
  5: 'INVALID_EVENTS',
  6: 'INVALID_EVENT_TYPE',
  7: 'INVALID_MEDIA_TYPE',
  8: 'DUPLICATE_SIGNAL_REQUEST',
  9: 'MEDIA_TYPE_AUDIO_NOT_SUPPORT',
  10: 'MEDIA_TYPE_VIDEO_NOT_SUPPORT',
  11: 'MEDIA_TYPE_DESKSHARE_NOT_SUPPORT',
  12: 'MEDIA_TYPE_TRANSCRIPT_NOT_SUPPORT',
  13: 'MEDIA_TYPE_CHAT_NOT_SUPPORT',
  14: 'MEDIA_TYPE_INVALID_VALUE',
  15: 'MEDIA_DATA_ALL_CONNECTION_EXIST',
  16: 'DUPLICATE_MEDIA_DATA_CONNECTION',
  17: 'INVALID_MEDIA_PARAMS',
  18: 'INVALID_MEDIA_AUDIO_PARAMS',
  19: 'INVALID_MEDIA_AUDIO_CONTENT_TYPE',
  20: 'INVALID_MEDIA_AUDIO_SAMPLE_RATE',
  21: 'INVALID_MEDIA_AUDIO_CHANNEL',
  22: 'INVALID_MEDIA_AUDIO_CODEC',
  23: 'INVALID_MEDIA_AUDIO_DATA_OPT',
  24: 'INVALID_MEDIA_AUDIO_SEND_RATE',
  25: 'INVALID_MEDIA_VIDEO_PARAMS',
  26: 'INVALID_MEDIA_VIDEO_CONTENT_TYPE',
  27: 'INVALID_MEDIA_VIDEO_CODEC',
  28: 'INVALID_MEDIA_VIDEO_RESOLUTION',
  29: 'INVALID_MEDIA_VIDEO_DATA_OPT',
  30: 'INVALID_MEDIA_VIDEO_FPS',
  31: 'INVALID_MEDIA_DESKSHARE_PARAMS',
  32: 'INVALID_MEDIA_DESKSHARE_CONTENT_TYPE',
  33: 'INVALID_MEDIA_DESKSHARE_CODEC',
  34: 'INVALID_MEDIA_DESKSHARE_RESOLUTION',
  35: 'INVALID_MEDIA_DESKSHARE_FPS',
  36: 'INVALID_MEDIA_TRANSCRIPT_PARAMS',
  37: 'INVALID_MEDIA_TRANSCRIPT_CONTENT_TYPE',
  38: 'INVALID_MEDIA_CHAT_PARAMS',
  39: 'INVALID_MEDIA_CHAT_CONTENT_TYPE',
  40: 'INVALID_RTMS_SESSION_ID',
  41: 'INVALID_CLIENT_READY_ACK',
  42: 'INVALID_EVENT_SUBSCRIBE',
  43: 'INVALID_MEDIA_TRANSCRIPT_SOURCE_LANGUAGE',
  44: 'DUPLICATE_VIDEO_SUBSCRIPTION',
  45: 'INTERNAL_EXCEPTION',
  46: 'INVALID_MEDIA_TRANSCRIPT_TARGET_LANGUAGE',
  47: 'CHAT_SESSION_KEY_NOT_AVAILABLE',
};

export function statusCodeName(code: number): string {
  return RTMS_STATUS_CODES[code] ?? `UNKNOWN_STATUS_${code}`;
}
