import { DomainError } from '../common/errors/domain-error';
import { ZoomErrorCode } from '../common/errors/error-codes';

/**
 * Errors of calls to Zoom. Domain errors, so a controller can let them through (the
 * exception filter answers with their code) and workers decide retries from `retryable`.
 * Messages carry Zoom's code and reason, never a token or a secret.
 */
export abstract class ZoomError extends DomainError {
  /** True when the same call may succeed later (network, timeout, 429, 5xx). */
  abstract readonly retryable: boolean;
}

/** Zoom could not be reached, timed out, throttled us or answered 5xx. Retry later. */
export class ZoomTransportError extends ZoomError {
  readonly retryable = true;
  constructor(
    readonly operation: string,
    readonly detail: string,
    /** HTTP status when Zoom answered (429, 5xx); undefined on network errors. */
    readonly httpStatus?: number,
    /** Seconds from Retry-After on a 429, when Zoom sent one. */
    readonly retryAfterSec?: number,
  ) {
    super(ZoomErrorCode.Unavailable, `Zoom ${operation} failed: ${detail}. Try again later.`);
  }
}

/** Zoom answered a 4xx that retrying will not fix. */
export class ZoomRequestError extends ZoomError {
  readonly retryable = false;
  constructor(
    readonly operation: string,
    readonly httpStatus: number,
    readonly zoomCode: number | string | undefined,
    readonly zoomMessage: string,
  ) {
    super(
      ZoomErrorCode.RequestFailed,
      `Zoom ${operation} was refused (HTTP ${httpStatus}${zoomCode !== undefined ? `, code ${zoomCode}` : ''}): ${zoomMessage}`,
      { zoomStatus: httpStatus, zoomCode: zoomCode ?? null, zoomMessage },
    );
  }
}

/** The connection's grant is gone (refresh refused or revoked): the user must authorize again. */
export class ReauthorizationRequiredError extends ZoomError {
  readonly retryable = false;
  constructor(readonly connectionId: string) {
    super(ZoomErrorCode.ReauthorizationRequired, `Zoom connection ${connectionId} must be authorized again (GET /api/v1/oauth/zoom/authorize)`);
  }
}

/** The hub lacks the Zoom app credentials a call needs. */
export class ZoomNotConfiguredError extends ZoomError {
  readonly retryable = false;
  constructor(what: string) {
    super(ZoomErrorCode.NotConfigured, `Zoom ${what} is not configured on this hub`);
  }
}
