import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * Errors of calls to Zoom. They are HttpExceptions so a controller can let them through
 * (the global filter renders them), and typed so processors can decide to retry.
 * Messages carry Zoom's code and reason, never a token or a secret.
 */
export abstract class ZoomError extends HttpException {
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
    super(
      { code: 'zoom_unavailable', message: `Zoom ${operation} failed: ${detail}. Try again later.` },
      HttpStatus.BAD_GATEWAY,
    );
    this.name = 'ZoomTransportError';
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
      {
        code: 'zoom_request_failed',
        message: `Zoom ${operation} was refused (HTTP ${httpStatus}${zoomCode !== undefined ? `, code ${zoomCode}` : ''}): ${zoomMessage}`,
        details: { zoomStatus: httpStatus, zoomCode: zoomCode ?? null, zoomMessage },
      },
      HttpStatus.BAD_GATEWAY,
    );
    this.name = 'ZoomRequestError';
  }
}

/** The connection's grant is gone (refresh refused or revoked): the user must authorize again. */
export class ReauthorizationRequiredError extends ZoomError {
  readonly retryable = false;
  constructor(readonly connectionId: string) {
    super(
      {
        code: 'reauthorization_required',
        message: `Zoom connection ${connectionId} must be authorized again (GET /api/v1/oauth/zoom/authorize)`,
      },
      HttpStatus.CONFLICT,
    );
    this.name = 'ReauthorizationRequiredError';
  }
}

/** The hub lacks the Zoom app credentials a call needs. */
export class ZoomNotConfiguredError extends HttpException {
  constructor(what: string) {
    super({ code: 'zoom_not_configured', message: `Zoom ${what} is not configured on this hub` }, HttpStatus.SERVICE_UNAVAILABLE);
    this.name = 'ZoomNotConfiguredError';
  }
}
