import { statusCodeName } from '../../../zoom/rtms-enums';

/**
 * How the stream worker reacts to a non-zero RTMS status code:
 * - permanent: retrying cannot help (bad credentials, bad request/params) → stream failed;
 * - retryable: transient or a race with a previous connection (duplicate signal 8,
 *   duplicate media 15/16, internal exception 45) → retry with backoff in the window;
 * - stream_gone: the server does not know the stream (2) — it moved (failover) or
 *   ended; retried with the latest server_urls until the window closes.
 */
export type StatusClass = 'permanent' | 'retryable' | 'stream_gone';

const RETRYABLE = new Set([8, 15, 16, 45]);

/** The older numbering (15 signature, 17 duplicate signal, 31 duplicate media) also circulates. */
const DUPLICATE_REASON = /duplicate (signal|media)/i;

export function classifyStatus(code: number, reason?: string): StatusClass {
  if (RETRYABLE.has(code)) return 'retryable';
  if (reason && DUPLICATE_REASON.test(reason)) return 'retryable';
  if (code === 2) return 'stream_gone';
  return 'permanent';
}

/** A named RTMS error from a non-zero status code in a handshake (or close) response. */
export class RtmsStatusError extends Error {
  readonly statusName: string;
  readonly statusClass: StatusClass;

  constructor(
    readonly socket: 'signaling' | 'media',
    readonly statusCode: number,
    readonly reason: string,
  ) {
    const name = statusCodeName(statusCode);
    super(`${socket} handshake refused: ${name} (${statusCode})${reason ? `: ${reason.slice(0, 200)}` : ''}`);
    this.name = 'RtmsStatusError';
    this.statusName = name;
    this.statusClass = classifyStatus(statusCode, reason);
  }

  get permanent(): boolean {
    return this.statusClass === 'permanent';
  }
}

/** The socket closed, timed out, or the peer could not be reached (always retryable). */
export class RtmsConnectionError extends Error {
  constructor(
    readonly socket: 'signaling' | 'media',
    message: string,
  ) {
    super(`${socket}: ${message}`);
    this.name = 'RtmsConnectionError';
  }
}

/** Stream cannot run at all (bad stored URLs, missing credentials, …): fail at once. */
export class StreamConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamConfigError';
  }
}
