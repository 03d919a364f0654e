import { Injectable } from '@nestjs/common';
import { errorMessage } from '../../common/errors/error-message';
import { MIN_RETRY_AFTER_SEC, retryAfterSeconds, ZoomCallOutcome, ZoomResponse, zoomErrorOf } from '../http/zoom-http.client';
import { ZoomError, ZoomTransportError } from '../zoom-errors';

/** Longest Retry-After honoured; a larger one is capped so a job is never parked for hours. */
export const MAX_RETRY_AFTER_SEC = 300;
/** The wait after a 429 that named none. */
const DEFAULT_RETRY_AFTER_SEC = 1;

/**
 * Thrown by a job when its Zoom call came to `retry` (5xx, network, timeout): BullMQ
 * backs off and runs the job again. The row already records what happened.
 */
export class ZoomCallRetryableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZoomCallRetryableError';
  }
}

/** Where a call gets its bearer token, and a fresh one after Zoom answered 401. */
export interface ZoomTokenSource {
  get(): Promise<string>;
  /** A token other than `rejected` (refreshed, or re-fetched for S2S). */
  refresh(rejected: string): Promise<string>;
}

export interface ZoomCallSpec {
  /** Names the call in stored errors, e.g. "RTMS start" or "room join". */
  operation: string;
  token: ZoomTokenSource;
  /** One HTTP call with this token. Throws ZoomTransportError on network errors/timeouts. */
  send(token: string): Promise<ZoomResponse>;
  /**
   * Runs before every send (e.g. count the attempt, wait for a rate-limit slot). What it
   * throws ends the call as thrown: it is not a Zoom failure.
   */
  beforeSend?(): Promise<void>;
  /** Zoom answered 401 and the token is being refreshed (for metrics). */
  onUnauthorized?(): void;
}

/**
 * What one Zoom call came to, as the one policy for every caller decides it:
 *  - `ok`: 2xx.
 *  - `throttled`: 429 (from the call, or from Zoom's token endpoint while getting its
 *    token: then there is no `response`); wait `waitSec` (Retry-After, capped) without
 *    using an attempt.
 *  - `retry`: 5xx, network error or timeout, or a token that could not be had for now.
 *  - `refused`: any other 4xx (401 only after one refresh): retrying will not help.
 *  - `no_token`: the token source failed for good (e.g. the grant needs reauthorization).
 * `record` is what the caller stores about the failure (never a token); `cause` is the
 * error thrown, where one was.
 */
export type ZoomCallResult =
  | { outcome: 'ok'; response: ZoomResponse }
  | { outcome: 'throttled'; response?: ZoomResponse; waitSec: number; record: ZoomCallOutcome }
  | { outcome: 'retry'; record: ZoomCallOutcome; cause?: ZoomError }
  | { outcome: 'refused'; response: ZoomResponse; record: ZoomCallOutcome }
  | { outcome: 'no_token'; cause: unknown; record: ZoomCallOutcome };

/**
 * The one call-outcome policy for Zoom's REST API (RTMS control, Zoom Rooms list, room
 * dispatch): 401 → refresh the token once and call again; 429 → honour Retry-After,
 * capped; 5xx and transport errors → retryable; other 4xx → final. Callers decide what
 * each outcome does to their job (defer, retry with backoff, fail), not what it means.
 */
@Injectable()
export class ZoomCallPolicy {
  async call(spec: ZoomCallSpec): Promise<ZoomCallResult> {
    let token: string;
    try {
      token = await spec.token.get();
    } catch (err) {
      return tokenFailure(err);
    }
    let refreshed = false;
    for (;;) {
      await spec.beforeSend?.();
      let res: ZoomResponse;
      try {
        res = await spec.send(token);
      } catch (err) {
        if (err instanceof ZoomError && err.retryable) return { outcome: 'retry', record: { error: err.message }, cause: err };
        throw err;
      }
      if (res.status === 401 && !refreshed) {
        refreshed = true;
        spec.onUnauthorized?.();
        try {
          token = await spec.token.refresh(token);
        } catch (err) {
          return tokenFailure(err);
        }
        continue;
      }
      return classify(res, spec.operation);
    }
  }
}

/** The policy's verdict on one answer (exported for callers that hold a response already). */
export function classify(res: ZoomResponse, operation: string): ZoomCallResult {
  if (res.status >= 200 && res.status < 300) return { outcome: 'ok', response: res };
  const z = zoomErrorOf(res.json);
  const zoomCode = z.code !== undefined ? String(z.code) : null;
  const base: ZoomCallOutcome = { zoomStatus: res.status, zoomCode, zoomMessage: z.message };
  if (res.status === 429) {
    const waitSec = throttleWaitSec(retryAfterSeconds(res.headers));
    return { outcome: 'throttled', response: res, waitSec, record: { ...base, error: `rate limited; retrying after ${waitSec} s` } };
  }
  if (res.status >= 500) return { outcome: 'retry', record: { ...base, error: `Zoom answered HTTP ${res.status}` } };
  return {
    outcome: 'refused',
    response: res,
    record: { ...base, error: `Zoom refused ${operation} (HTTP ${res.status}${zoomCode ? `, code ${zoomCode}` : ''}): ${z.message}` },
  };
}

/** Retry-After (or the default when Zoom named none or an unreadable one), at least 1 s, capped. */
function throttleWaitSec(retryAfterSec: number | undefined): number {
  return Math.max(MIN_RETRY_AFTER_SEC, Math.min(retryAfterSec ?? DEFAULT_RETRY_AFTER_SEC, MAX_RETRY_AFTER_SEC));
}

function tokenFailure(err: unknown): ZoomCallResult {
  // Zoom's token endpoint (user refresh, S2S fetch) rate-limited us: wait its Retry-After
  // like a 429 of the call itself. As a plain `retry` it went to the job's backoff, which
  // spent every attempt in seconds while Zoom had asked for minutes.
  if (err instanceof ZoomTransportError && err.httpStatus === 429) {
    const waitSec = throttleWaitSec(err.retryAfterSec);
    return { outcome: 'throttled', waitSec, record: { zoomStatus: 429, zoomCode: null, error: `Zoom ${err.operation} rate limited; retrying after ${waitSec} s` } };
  }
  if (err instanceof ZoomError && err.retryable) return { outcome: 'retry', record: { error: err.message }, cause: err };
  return { outcome: 'no_token', cause: err, record: { zoomCode: null, error: errorMessage(err) } };
}
