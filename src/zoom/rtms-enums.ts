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

export const STOP_REASON_STREAM_REVOKED = 8;

export function stopReasonName(reason: number | null | undefined): string | null {
  if (reason === null || reason === undefined) return null;
  return RTMS_STOP_REASONS[reason] ?? `UNKNOWN_${reason}`;
}
