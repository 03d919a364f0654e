/*
 * Every machine-readable error code the API answers with is listed here (and in
 * docs/api.md): the domain codes per module, their HTTP status, and the defaults per
 * status for errors that give no code.
 */

/** Refusals of the API key guard (and of the live endpoints' key check). */
export enum AuthErrorCode {
  /** No key, an unknown key or a malformed header: one answer for all, so a caller cannot tell which. */
  InvalidApiKey = 'invalid_api_key',
  /** The key's role (read < control < admin) is below the route's. */
  InsufficientRole = 'insufficient_role',
  /** An owner-scoped key on a route that shows or changes every owner's data. */
  OwnerScopedKeyRefused = 'owner_scoped_key_refused',
  /** A console-cookie request a cross-site page could have made (another origin, or a change without the CSRF header). */
  CrossSiteRequestRefused = 'cross_site_request_refused',
}

export enum SessionErrorCode {
  SessionNotFound = 'session_not_found',
  IllegalTransition = 'illegal_transition',
  MetadataTooLarge = 'metadata_too_large',
  /** The session is under legal hold: it cannot be deleted until the hold is released. */
  SessionOnLegalHold = 'session_on_legal_hold',
  /** capture_policy video/deskshare: a format, fps and resolution Zoom does not offer together (e.g. h264 at 5 fps). */
  InvalidCapturePolicy = 'invalid_capture_policy',
  /** An open session of another owner is registered for this meeting: Zoom sends one stream, and it is theirs. */
  MeetingRegisteredByAnotherOwner = 'meeting_registered_by_another_owner',
}

/** Refusals of the Zoom event intake (webhook route and event WebSocket alike). */
export enum WebhookErrorCode {
  InvalidEvent = 'invalid_event',
  DisallowedServerUrl = 'disallowed_server_url',
  /** The event could not be stored: the sender should try again (Zoom resends webhooks). */
  EventStoreUnavailable = 'event_store_unavailable',
  /** Postgres refuses this one event's data (not an outage): sending it again fails again. */
  EventUnstorable = 'event_unstorable',
}

export enum OAuthErrorCode {
  ConnectionNotFound = 'connection_not_found',
  RedirectNotAllowed = 'redirect_not_allowed',
  InvalidOAuthState = 'invalid_oauth_state',
  OAuthDenied = 'oauth_denied',
  MissingCode = 'missing_code',
  InvalidAuthorizationCode = 'invalid_authorization_code',
  InvalidTokenResponse = 'invalid_token_response',
}

export enum RtmsControlErrorCode {
  InvalidIdempotencyKey = 'invalid_idempotency_key',
  IdempotencyKeyReused = 'idempotency_key_reused',
  ControlRequestInProgress = 'control_request_in_progress',
  SessionNotControllable = 'session_not_controllable',
  InvalidSessionState = 'invalid_session_state',
  ConnectionRequired = 'connection_required',
  QueueUnavailable = 'queue_unavailable',
}

export enum ZoomRoomsErrorCode {
  RoomDispatchNotFound = 'room_dispatch_not_found',
  NoAvailableRooms = 'no_available_rooms',
  RoomDispatchConflict = 'room_dispatch_conflict',
  RoomDispatchNotFailed = 'room_dispatch_not_failed',
  RoomDispatchChanged = 'room_dispatch_changed',
  RoomBusy = 'room_busy',
  RoomDispatchFinished = 'room_dispatch_finished',
}

export enum MediaErrorCode {
  ArtifactNotFound = 'artifact_not_found',
  ArtifactContentMissing = 'artifact_content_missing',
  StreamWorkerNotFound = 'stream_worker_not_found',
  /** The storage backend (disk or S3) cannot be reached: the artifact exists, try again later. */
  StorageUnavailable = 'storage_unavailable',
}

/** Refusals of the session console's own routes (/console). */
export enum ConsoleErrorCode {
  /** A console asset or action without a live console login. */
  LoginRequired = 'console_login_required',
  /** Wrong admin username or password on the login form (or no admin credentials configured). */
  InvalidCredentials = 'invalid_console_credentials',
  /** Too many failed logins from this address: wait. */
  TooManyLoginAttempts = 'too_many_login_attempts',
}

/** Refusals of the recording API (composed recordings, docs/recordings.md). */
export enum RecordingErrorCode {
  /** The session is still streaming (or never streamed): there is nothing final to compose yet. */
  SessionNotEnded = 'recording_session_not_ended',
  /** The compose job could not be queued (Redis unreachable): try again. */
  QueueUnavailable = 'recording_queue_unavailable',
}

/** Refusals of the webhook-endpoints API (outbound webhooks to apps). */
export enum AppWebhooksErrorCode {
  EndpointNotFound = 'webhook_endpoint_not_found',
  MessageNotFound = 'webhook_message_not_found',
  /** The URL's form: not absolute, not https://, credentials or a fragment in it. */
  InvalidUrl = 'invalid_webhook_url',
  /** The URL's host resolves to a loopback, private, link-local… address, or does not resolve. */
  UrlNotAllowed = 'webhook_url_not_allowed',
  /** The URL's host could not be resolved for now (the DNS server did not answer): ask again. */
  UrlLookupFailed = 'webhook_url_lookup_failed',
  UnknownEventType = 'unknown_event_type',
  /** Resend, recover or test on a disabled endpoint. */
  EndpointDisabled = 'webhook_endpoint_disabled',
  MetadataTooLarge = 'webhook_metadata_too_large',
}

/** Refusals of the deletion-log API (the audit trail of deletions). */
export enum DeletionLogErrorCode {
  DeletionNotFound = 'deletion_not_found',
}

/** Refusals of the erasures API (erasure by participant, docs/retention.md). */
export enum ErasureErrorCode {
  ErasureNotFound = 'erasure_not_found',
  /** Not exactly one of zoom_user_id, user_email, user_name, or one that is malformed. */
  InvalidErasureSubject = 'invalid_erasure_subject',
  /** Redis did not take the erasure's job: the request is recorded as failed; ask again. */
  ErasureQueueUnavailable = 'erasure_queue_unavailable',
}

/** Failures of calls to Zoom (src/zoom). */
export enum ZoomErrorCode {
  /** Network error, timeout, 429 or 5xx: try again later. */
  Unavailable = 'zoom_unavailable',
  /** A 4xx that retrying will not fix. */
  RequestFailed = 'zoom_request_failed',
  /** The user's grant is gone: they must authorize again. */
  ReauthorizationRequired = 'reauthorization_required',
  /** The hub lacks the Zoom app credentials the call needs. */
  NotConfigured = 'zoom_not_configured',
}

/** Refusals of the live endpoints' HTTP side (tickets, SSE, the WebSocket upgrade). */
export enum LiveErrorCode {
  /** `?ticket=` unknown, expired or already used. */
  InvalidTicket = 'invalid_live_ticket',
  /** The ticket was issued for other sessions. */
  SessionNotAllowed = 'live_session_not_allowed',
  /** SSE `types` names something that is not a text media (binary media need the WebSocket). */
  InvalidLiveTypes = 'invalid_live_types',
}

/**
 * Codes of the live WebSocket's in-band `{"type":"error","code"}` messages (the
 * connection stays open). Not HTTP answers, so not domain codes; docs/api.md lists them.
 */
export enum LiveProtocolErrorCode {
  BadRequest = 'bad_request',
  SessionNotFound = 'session_not_found',
  SessionNotAllowed = 'live_session_not_allowed',
  TooManySubscriptions = 'too_many_subscriptions',
  DuplicateSubscription = 'duplicate_subscription',
  UnknownSubscription = 'unknown_subscription',
  /** The hub could not reach Redis or Postgres for this request: try again. */
  Unavailable = 'live_unavailable',
}

export type DomainErrorCode = AuthErrorCode | SessionErrorCode | WebhookErrorCode | OAuthErrorCode | RtmsControlErrorCode | ZoomRoomsErrorCode | MediaErrorCode | AppWebhooksErrorCode | DeletionLogErrorCode | ZoomErrorCode | LiveErrorCode | ErasureErrorCode | ConsoleErrorCode | RecordingErrorCode;

/** The HTTP status each domain code is answered with. */
export const DOMAIN_ERROR_HTTP_STATUS: Record<DomainErrorCode, number> = {
  [AuthErrorCode.InvalidApiKey]: 401,
  [AuthErrorCode.InsufficientRole]: 403,
  [AuthErrorCode.OwnerScopedKeyRefused]: 403,
  [AuthErrorCode.CrossSiteRequestRefused]: 403,
  [SessionErrorCode.SessionNotFound]: 404,
  [SessionErrorCode.IllegalTransition]: 409,
  [SessionErrorCode.MetadataTooLarge]: 400,
  [SessionErrorCode.SessionOnLegalHold]: 409,
  [SessionErrorCode.InvalidCapturePolicy]: 400,
  [SessionErrorCode.MeetingRegisteredByAnotherOwner]: 409,
  [WebhookErrorCode.InvalidEvent]: 400,
  [WebhookErrorCode.DisallowedServerUrl]: 400,
  [WebhookErrorCode.EventStoreUnavailable]: 503,
  [WebhookErrorCode.EventUnstorable]: 422,
  [OAuthErrorCode.ConnectionNotFound]: 404,
  [OAuthErrorCode.RedirectNotAllowed]: 400,
  [OAuthErrorCode.InvalidOAuthState]: 400,
  [OAuthErrorCode.OAuthDenied]: 400,
  [OAuthErrorCode.MissingCode]: 400,
  [OAuthErrorCode.InvalidAuthorizationCode]: 400,
  [OAuthErrorCode.InvalidTokenResponse]: 400,
  [RtmsControlErrorCode.InvalidIdempotencyKey]: 400,
  [RtmsControlErrorCode.IdempotencyKeyReused]: 422,
  [RtmsControlErrorCode.ControlRequestInProgress]: 409,
  [RtmsControlErrorCode.SessionNotControllable]: 409,
  [RtmsControlErrorCode.InvalidSessionState]: 409,
  [RtmsControlErrorCode.ConnectionRequired]: 422,
  [RtmsControlErrorCode.QueueUnavailable]: 503,
  [ZoomRoomsErrorCode.RoomDispatchNotFound]: 404,
  [ZoomRoomsErrorCode.NoAvailableRooms]: 422,
  [ZoomRoomsErrorCode.RoomDispatchConflict]: 409,
  [ZoomRoomsErrorCode.RoomDispatchNotFailed]: 409,
  [ZoomRoomsErrorCode.RoomDispatchChanged]: 409,
  [ZoomRoomsErrorCode.RoomBusy]: 409,
  [ZoomRoomsErrorCode.RoomDispatchFinished]: 409,
  [MediaErrorCode.ArtifactNotFound]: 404,
  [MediaErrorCode.ArtifactContentMissing]: 404,
  [MediaErrorCode.StreamWorkerNotFound]: 404,
  [MediaErrorCode.StorageUnavailable]: 503,
  [AppWebhooksErrorCode.EndpointNotFound]: 404,
  [AppWebhooksErrorCode.MessageNotFound]: 404,
  [AppWebhooksErrorCode.InvalidUrl]: 400,
  [AppWebhooksErrorCode.UrlNotAllowed]: 400,
  [AppWebhooksErrorCode.UrlLookupFailed]: 503,
  [AppWebhooksErrorCode.UnknownEventType]: 400,
  [AppWebhooksErrorCode.EndpointDisabled]: 409,
  [AppWebhooksErrorCode.MetadataTooLarge]: 400,
  [DeletionLogErrorCode.DeletionNotFound]: 404,
  [ZoomErrorCode.Unavailable]: 502,
  [ZoomErrorCode.RequestFailed]: 502,
  [ZoomErrorCode.ReauthorizationRequired]: 409,
  [ZoomErrorCode.NotConfigured]: 503,
  [LiveErrorCode.InvalidTicket]: 401,
  [LiveErrorCode.SessionNotAllowed]: 403,
  [LiveErrorCode.InvalidLiveTypes]: 400,
  [ErasureErrorCode.ErasureNotFound]: 404,
  [ErasureErrorCode.InvalidErasureSubject]: 400,
  [ErasureErrorCode.ErasureQueueUnavailable]: 503,
  [ConsoleErrorCode.LoginRequired]: 401,
  [ConsoleErrorCode.InvalidCredentials]: 401,
  [ConsoleErrorCode.TooManyLoginAttempts]: 429,
  [RecordingErrorCode.SessionNotEnded]: 409,
  [RecordingErrorCode.QueueUnavailable]: 503,
};

/** Default machine-readable code per HTTP status, used when a handler gives none. */
export const DEFAULT_ERROR_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'too_many_requests',
  500: 'internal_error',
  502: 'bad_gateway',
  503: 'service_unavailable',
};

export function defaultCodeFor(status: number): string {
  return DEFAULT_ERROR_CODES[status] ?? (status >= 500 ? 'internal_error' : 'error');
}

/** The one error body of every 4xx/5xx answer. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  requestId?: string;
  details?: unknown;
}
