import type { MediaBatchPayload } from '../../../jobs/job-payloads';

/**
 * Storage failures split in two: the store is unavailable (full, read-only, unreachable,
 * refusing our credentials, throttling) and the same write will succeed once an operator
 * or the provider fixes it — or the write itself is wrong (a refused key, a 4xx about the
 * request) and retrying cannot help. Media whose store is unavailable waits (the
 * media-frames savers retry it for STORAGE_RETRY_WINDOW_SEC); a bad item is given up at once.
 */

/** Local filesystem errors about the volume, its mount or its permissions, never about one item. */
const UNAVAILABLE_ERRNO = new Set([
  'ENOSPC', // full
  'EDQUOT', // quota
  'EROFS', // remounted read-only
  'EACCES',
  'EPERM',
  'EIO',
  'ENOTDIR', // a path component replaced by a file (unmounted, misconfigured)
  'ENOENT', // the storage root or its mount went away
  'ESTALE', // NFS
  'ENOTCONN',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'ENETDOWN',
  'ENETUNREACH',
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EMFILE',
  'ENFILE',
  'EBUSY',
  'EAGAIN',
  'ENXIO',
]);

/** S3 error names that say the service (or our access to it) is unavailable, not the request wrong. */
const UNAVAILABLE_S3_NAMES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TimeoutError',
  'RequestTimeoutException',
  'NetworkingError',
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
  'NoSuchBucket',
  'AbortError',
]);

interface ErrorLike {
  code?: unknown;
  errno?: unknown;
  name?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** Errors about the item itself: the same write can never succeed. */
const PERMANENT_ERRNO = new Set(['EISDIR', 'ENAMETOOLONG', 'EINVAL', 'EFBIG', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE']);
const PERMANENT_NAMES = new Set(['UnrecoverableError', 'UnsafeStorageKeyError', 'TypeError', 'RangeError']);

function knownUnavailable(e: ErrorLike, depth: number): boolean {
  if (typeof e.code === 'string' && UNAVAILABLE_ERRNO.has(e.code)) return true;
  if (typeof e.name === 'string' && UNAVAILABLE_S3_NAMES.has(e.name)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429 || status === 408 || status === 401 || status === 403)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => typeof x === 'object' && x !== null && knownUnavailable(x as ErrorLike, depth + 1))) return true;
  return depth < 4 && typeof e.cause === 'object' && e.cause !== null && knownUnavailable(e.cause as ErrorLike, depth + 1);
}

function knownPermanent(e: ErrorLike): boolean {
  if (typeof e.code === 'string' && PERMANENT_ERRNO.has(e.code)) return true;
  if (typeof e.name === 'string' && PERMANENT_NAMES.has(e.name)) return true;
  // Any other 4xx from S3 is about the request (InvalidArgument, EntityTooLarge, KeyTooLong…).
  const status = e.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * Whether `err` means "storage unavailable" (retry later) rather than "this item can never
 * be stored". Known outage errors (above; also inside `cause` and AggregateError members,
 * as the AWS SDK and Node's connect wrap them) are unavailable; errors known to be about
 * the item are permanent; anything else counts as unavailable: media is held (and, past
 * STORAGE_RETRY_WINDOW_SEC, recorded as lost) rather than dropped on an error nobody
 * foresaw. (The SDK may also hand over a bare Error whose message alone names the cause.)
 */
export function isStorageUnavailable(err: unknown): boolean {
  if (err instanceof StorageUnavailableError) return true;
  if (typeof err !== 'object' || err === null) return false;
  const e = err as ErrorLike;
  if (knownUnavailable(e, 0)) return true;
  return !knownPermanent(e);
}

/** A short, secret-free description of a storage error for logs and the timeline. */
export function storageErrorSummary(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'Error';
  const status = e.$metadata?.httpStatusCode;
  const message = typeof e.message === 'string' ? e.message.slice(0, 200) : '';
  return `${code}${status ? ` (HTTP ${status})` : ''}${message && !message.startsWith(code) ? `: ${message}` : ''}`;
}

/** Counts per artifact kind (video_frame, share_frame, chat, transcript). */
export type KindCounts = Record<string, number>;

/**
 * A media batch could not be (completely) written because storage is unavailable: the
 * items already written are recorded; these are not. The media-frames processor retries
 * the job with backoff instead of counting an attempt.
 */
export class StorageUnavailableError extends Error {
  constructor(
    /** What was not written, per kind. */
    readonly unsaved: KindCounts,
    readonly firstCause: unknown,
    /** The batch cut down to the items not written (what the retry has left to do). */
    readonly remaining: MediaBatchPayload,
  ) {
    super(`storage unavailable: ${storageErrorSummary(firstCause)}`);
    this.name = 'StorageUnavailableError';
  }
}

/**
 * Delay before storage retry number `tries` (1-based): base·2^(tries−1), capped at `maxMs`,
 * jittered to [½, 1] so batches that failed together do not return together.
 */
export function storageRetryDelayMs(tries: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(tries - 1, 0), 30));
  return Math.max(1, Math.round(exp * (0.5 + random() / 2)));
}
