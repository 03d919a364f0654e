/*
 * Every machine-readable error code the API answers with is listed here (and in
 * docs/api.md): the domain codes per module, their HTTP status, and the defaults per
 * status for errors that give no code.
 */

export enum SessionErrorCode {
  SessionNotFound = 'session_not_found',
  IllegalTransition = 'illegal_transition',
}

export enum OAuthErrorCode {
  ConnectionNotFound = 'connection_not_found',
}

export enum ZoomRoomsErrorCode {
  RoomDispatchNotFound = 'room_dispatch_not_found',
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

export type DomainErrorCode = SessionErrorCode | OAuthErrorCode | ZoomRoomsErrorCode | ZoomErrorCode;

/** The HTTP status each domain code is answered with. */
export const DOMAIN_ERROR_HTTP_STATUS: Record<DomainErrorCode, number> = {
  [SessionErrorCode.SessionNotFound]: 404,
  [SessionErrorCode.IllegalTransition]: 409,
  [OAuthErrorCode.ConnectionNotFound]: 404,
  [ZoomRoomsErrorCode.RoomDispatchNotFound]: 404,
  [ZoomErrorCode.Unavailable]: 502,
  [ZoomErrorCode.RequestFailed]: 502,
  [ZoomErrorCode.ReauthorizationRequired]: 409,
  [ZoomErrorCode.NotConfigured]: 503,
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
