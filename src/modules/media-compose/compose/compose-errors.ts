import { isStorageUnavailable, StorageObjectNotFoundError } from '../../media-ingest';
import { ComposeInputError } from '../engine/ffmpeg-compose-engine';
import { FfmpegError, FfmpegNotFoundError, FfmpegTimeoutError } from '../engine/ffmpeg-runner';

/** Why a recording could not be composed: what recording.ready's `recording_error.code` says. */
export type ComposeErrorCode =
  /** The session captured nothing the recording is made from (no H.264 video, no audio). */
  | 'nothing_to_compose'
  /** A stored source object is gone (deleted, purged) though its row is there. */
  | 'source_missing'
  /** A stored source cannot be read as what its row says (not a WAV, say). */
  | 'source_invalid'
  /** ffmpeg is not installed (or FFMPEG_PATH is wrong). */
  | 'ffmpeg_missing'
  /** ffmpeg ran and failed: the same input fails the same way again. */
  | 'compose_failed'
  /** Storage was unavailable for every attempt the job had. */
  | 'storage_unavailable'
  /** Anything else, after the job's last attempt. */
  | 'internal_error';

/** A failure the job knows the nature of. */
export class ComposeFailure extends Error {
  constructor(
    readonly code: ComposeErrorCode,
    message: string,
    /** True: another attempt may succeed (the job is retried); false: recorded and announced now. */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'ComposeFailure';
  }
}

/**
 * Some sources went or changed while the composition ran (an erasure or a retention purge
 * took them): nothing was stored, and the next attempt plans again from what is left.
 */
export function sourcesChanged(): ComposeFailure {
  return new ComposeFailure('internal_error', 'sources were deleted or replaced while composing (an erasure or a retention purge): nothing stored; composing again from what is left', true);
}

/** The session was deleted while the composition ran: nothing to store, nothing to announce. */
export class ComposeSessionGone extends Error {
  constructor(sessionId: string) {
    super(`session ${sessionId} was deleted while composing`);
    this.name = 'ComposeSessionGone';
  }
}

/**
 * The run was stopped from outside, not by its own failure: SIGTERM (`shutdown`), or its
 * lease lost to another run (`lease_lost`). The job is put back without using an attempt.
 */
export class ComposeInterrupted extends Error {
  constructor(readonly reason: 'shutdown' | 'lease_lost') {
    super(`composition interrupted (${reason})`);
    this.name = 'ComposeInterrupted';
  }
}

/** errno codes of the machine, not of the input: no memory, no process or file slots, no disk space. */
const RESOURCE_ERRNOS = new Set(['EAGAIN', 'ENOMEM', 'EMFILE', 'ENFILE', 'ENOSPC', 'EDQUOT']);
/** What ffmpeg prints (strerror) when the disk it writes to is full. */
const DISK_FULL = /No space left on device|Disk quota exceeded/i;

/**
 * An error from the engine (ffmpeg). ffmpeg failing on its input is deterministic
 * (compose_failed, final); the machine failing it is not, and is retried as
 * internal_error: a full disk (ENOSPC), ffmpeg killed by a signal the runner did not send
 * (the OOM killer's SIGKILL: the runner's own kills, on abort or past the deadline,
 * reject with other errors), a run past its deadline, a spawn refused for want of
 * memory or processes. A missing binary is named as such; an abort is retried.
 */
export function engineFailure(err: unknown): ComposeFailure {
  if (err instanceof ComposeFailure) return err;
  const e = err as { code?: unknown; syscall?: unknown; name?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (e?.name === 'AbortError') return new ComposeFailure('internal_error', `composition aborted: ${message}`, true);
  if (err instanceof FfmpegNotFoundError) return new ComposeFailure('ffmpeg_missing', message, false);
  if (err instanceof ComposeInputError) return new ComposeFailure('source_invalid', message, false);
  if (e?.code === 'ENOENT' && (typeof e.syscall !== 'string' || e.syscall.startsWith('spawn'))) return new ComposeFailure('ffmpeg_missing', `ffmpeg not found: ${message}`, false);
  if (err instanceof FfmpegTimeoutError) return new ComposeFailure('internal_error', message, true);
  if (err instanceof FfmpegError && err.signal !== null) return new ComposeFailure('internal_error', `${message} (killed from outside: out of memory?)`, true);
  if (err instanceof FfmpegError && DISK_FULL.test(err.stderrTail)) return new ComposeFailure('internal_error', `disk full: ${message}`, true);
  if (typeof e?.code === 'string' && RESOURCE_ERRNOS.has(e.code)) return new ComposeFailure('internal_error', message, true);
  return new ComposeFailure('compose_failed', message, false);
}

/**
 * An error of a storage call (download a source, upload the result): a missing object is
 * final; storage that is unavailable is retried (so is anything storage-errors.ts does
 * not know to be permanent); a refused write is final.
 */
export function storageFailure(err: unknown): ComposeFailure {
  if (err instanceof ComposeFailure) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof StorageObjectNotFoundError) return new ComposeFailure('source_missing', message, false);
  if (isStorageUnavailable(err)) return new ComposeFailure('storage_unavailable', message, true);
  return new ComposeFailure('internal_error', `storage refused: ${message}`, false);
}

/** Any other error of an attempt (Postgres, a bug): retried; the last attempt announces it as internal_error. */
export function classifyComposeError(err: unknown): ComposeFailure {
  if (err instanceof ComposeFailure) return err;
  return new ComposeFailure('internal_error', err instanceof Error ? err.message : String(err), true);
}
