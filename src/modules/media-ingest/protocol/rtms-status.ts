import { RTMS_STATUS_CODES, statusCodeName } from '../../../zoom/rtms-enums';

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

/** Handshake responses a status code can come in (the meaning of some codes depends on it). */
const SIGNALING_HANDSHAKE_RESP = 2;
const DATA_HANDSHAKE_RESP = 4;

/**
 * An older numbering also circulates (rtms-protocol.md §2: 15 INVALID_SIGNATURE, 17
 * DUPLICATE_SIGNAL_REQUEST, 31 DUPLICATE_MEDIA_DATA_CONNECTION), and servers send the
 * status name or a phrase as `reason` ("DUPLICATE_SIGNAL_REQUEST", "duplicate signal
 * request"). The reason names the status unambiguously, so it is read first; words may be
 * joined by a space or an underscore (the old /duplicate (signal|media)/ missed the
 * upper-case names, so old-numbered duplicates failed the stream for good).
 */
const REASON_RULES: ReadonlyArray<[RegExp, StatusClass]> = [
  [/duplicate[ _](signal|media)/i, 'retryable'],
  [/invalid[ _]signature/i, 'permanent'],
];

/** A reason that is exactly a status name (as the current numbering's servers send it). */
const STATUS_BY_NAME = new Map(Object.entries(RTMS_STATUS_CODES).map(([code, name]) => [name, Number(code)]));

function classifyReason(reason: string): StatusClass | undefined {
  for (const [pattern, cls] of REASON_RULES) if (pattern.test(reason)) return cls;
  // e.g. INVALID_MEDIA_DESKSHARE_PARAMS next to a 31 says which numbering the server uses.
  const named = STATUS_BY_NAME.get(reason.trim().toUpperCase().replace(/[ -]+/g, '_'));
  return named === undefined || named === 0 ? undefined : classifyCode(named);
}

/**
 * The code alone, read by the handshake response it came in:
 * - msg 2 (signaling): the current 15/17 concern media handshakes and cannot arrive here,
 *   so they can only be the older numbering: 15 INVALID_SIGNATURE (permanent, instead of
 *   retrying a bad signature for the whole window), 17 DUPLICATE_SIGNAL_REQUEST (retryable).
 * - msg 4 (media): 15 stays MEDIA_DATA_ALL_CONNECTION_EXIST (an old-numbered bad signature
 *   would already have failed msg 1, which carries the same signature) and 17 stays
 *   INVALID_MEDIA_PARAMS (a duplicate *signal* request cannot come on a media socket).
 *   31 is either INVALID_MEDIA_DESKSHARE_PARAMS (current) or DUPLICATE_MEDIA_DATA_CONNECTION
 *   (older); with no reason to tell them apart it is retried: a wrong guess costs one retry
 *   window, while calling a duplicate permanent would end the stream for good.
 */
function classifyCode(code: number, msgType?: number): StatusClass {
  if (msgType === SIGNALING_HANDSHAKE_RESP) {
    if (code === 15) return 'permanent';
    if (code === 17) return 'retryable';
  }
  if (msgType === DATA_HANDSHAKE_RESP && code === 31) return 'retryable';
  if (RETRYABLE.has(code)) return 'retryable';
  if (code === 2) return 'stream_gone';
  return 'permanent';
}

/**
 * @param msgType the message the status came in (2 signaling / 4 media handshake response);
 *   without it only the current numbering is read.
 */
export function classifyStatus(code: number, reason?: string, msgType?: number): StatusClass {
  return (reason ? classifyReason(reason) : undefined) ?? classifyCode(code, msgType);
}

/** A named RTMS error from a non-zero status code in a handshake (or close) response. */
export class RtmsStatusError extends Error {
  readonly statusName: string;
  readonly statusClass: StatusClass;

  constructor(
    readonly socket: 'signaling' | 'media',
    readonly statusCode: number,
    readonly reason: string,
    /** The response message type the status came in (2 / 4), which some codes need. */
    readonly msgType?: number,
  ) {
    const name = statusCodeName(statusCode);
    super(`${socket} handshake refused: ${name} (${statusCode})${reason ? `: ${reason.slice(0, 200)}` : ''}`);
    this.name = 'RtmsStatusError';
    this.statusName = name;
    this.statusClass = classifyStatus(statusCode, reason, msgType);
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
