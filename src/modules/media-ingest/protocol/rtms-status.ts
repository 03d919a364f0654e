import { RTMS_STATUS_CODES, statusCodeName } from '../../../zoom/rtms-enums';
import type { MediaTypeName } from '../../sessions';

/**
 * How the stream worker reacts to a non-zero RTMS status code:
 * - permanent: retrying cannot help (bad credentials, bad request/params) → stream failed;
 * - retryable: transient or a race with a previous connection (duplicate signal 8,
 *   duplicate media 15/16, internal exception 45) → retry with backoff in the window;
 * - stream_gone: the server does not know the stream (2) — it moved (failover) or
 *   ended; retried with the latest server_urls until the window closes.
 * - media_type_unavailable: a media handshake asked for a type the app has no scope for
 *   (9–13 MEDIA_TYPE_*_NOT_SUPPORT) → that type is dropped and the rest asked for at once.
 *   The hub may ask for deskshare/chat without knowing the scope (handshake.ts
 *   planMediaSockets), so this answer is expected, not a failure.
 */
export type StatusClass = 'permanent' | 'retryable' | 'stream_gone' | 'media_type_unavailable';

const RETRYABLE = new Set([8, 15, 16, 45]);

/** 9–13 MEDIA_TYPE_{AUDIO,VIDEO,DESKSHARE,TRANSCRIPT,CHAT}_NOT_SUPPORT: the type refused. */
const NOT_SUPPORTED: Readonly<Record<number, MediaTypeName>> = { 9: 'audio', 10: 'video', 11: 'deskshare', 12: 'transcript', 13: 'chat' };

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

function statusNamedBy(reason: string): number | undefined {
  return STATUS_BY_NAME.get(reason.trim().toUpperCase().replace(/[ -]+/g, '_'));
}

function classifyReason(reason: string): StatusClass | undefined {
  for (const [pattern, cls] of REASON_RULES) if (pattern.test(reason)) return cls;
  // e.g. INVALID_MEDIA_DESKSHARE_PARAMS next to a 31 says which numbering the server uses.
  const named = statusNamedBy(reason);
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
  if (NOT_SUPPORTED[code]) return 'media_type_unavailable';
  if (RETRYABLE.has(code)) return 'retryable';
  if (code === 2) return 'stream_gone';
  return 'permanent';
}

/**
 * @param msgType the message the status came in (2 signaling / 4 media handshake response);
 *   without it only the current numbering is read.
 */
export function classifyStatus(code: number, reason?: string, msgType?: number): StatusClass {
  const cls = (reason ? classifyReason(reason) : undefined) ?? classifyCode(code, msgType);
  // Only a media handshake asks for media types: in msg 2 a "not supported" type is a reply
  // the signaling handshake cannot get, and retrying without a type cannot change it.
  return cls === 'media_type_unavailable' && msgType === SIGNALING_HANDSHAKE_RESP ? 'permanent' : cls;
}

/** The media type a media_type_unavailable status refuses: named by the reason when it names one, else by the code. */
function refusedMediaType(code: number, reason: string): MediaTypeName | undefined {
  const named = reason ? statusNamedBy(reason) : undefined;
  return (named !== undefined ? NOT_SUPPORTED[named] : undefined) ?? NOT_SUPPORTED[code];
}

/** A named RTMS error from a non-zero status code in a handshake (or close) response. */
export class RtmsStatusError extends Error {
  readonly statusName: string;
  readonly statusClass: StatusClass;
  /** media_type_unavailable: the type the server refused (the stream stops asking for it). */
  readonly mediaType?: MediaTypeName;

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
    if (this.statusClass === 'media_type_unavailable') this.mediaType = refusedMediaType(statusCode, reason);
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
