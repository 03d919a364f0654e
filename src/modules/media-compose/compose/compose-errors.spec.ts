import { StorageObjectNotFoundError } from '../../media-ingest';
import { FfmpegError, FfmpegTimeoutError } from '../engine/ffmpeg-runner';
import { classifyComposeError, ComposeFailure, engineFailure, storageFailure } from './compose-errors';

const errno = (code: string, syscall?: string) => Object.assign(new Error(`${code} error`), { code, syscall });

describe('compose error mapping', () => {
  it('an ffmpeg failure is final (the same input fails the same way)', () => {
    const f = engineFailure(new Error('ffmpeg exited with code 1: Invalid data found when processing input'));
    expect(f).toMatchObject({ code: 'compose_failed', retryable: false });
    expect(f.message).toContain('Invalid data');
  });

  it('ffmpeg failing on its input is final: an exit code with the input’s error', () => {
    expect(engineFailure(new FfmpegError('ffmpeg', 1, 'pipe:3: Invalid data found when processing input'))).toMatchObject({ code: 'compose_failed', retryable: false });
  });

  it('the machine failing ffmpeg is retried: a full disk, a kill we did not send (OOM), a hung run, a refused spawn', () => {
    expect(engineFailure(new FfmpegError('ffmpeg', 1, 'av_interleaved_write_frame(): No space left on device\nError writing trailer of /w/recording.mp4: No space left on device'))).toMatchObject({
      code: 'internal_error',
      retryable: true,
    });
    expect(engineFailure(new FfmpegError('ffmpeg', 1, 'Error writing trailer: Disk quota exceeded'))).toMatchObject({ retryable: true });
    const killed = engineFailure(new FfmpegError('ffmpeg', null, 'frame= 100', 'SIGKILL'));
    expect(killed).toMatchObject({ code: 'internal_error', retryable: true });
    expect(killed.message).toContain('signal SIGKILL');
    expect(engineFailure(new FfmpegTimeoutError('ffmpeg', 600_000, ''))).toMatchObject({ code: 'internal_error', retryable: true });
    for (const code of ['EAGAIN', 'ENOMEM', 'EMFILE', 'ENFILE', 'ENOSPC']) expect(engineFailure(errno(code, 'spawn ffmpeg'))).toMatchObject({ code: 'internal_error', retryable: true });
  });

  it('a missing ffmpeg binary is named as such, and final', () => {
    expect(engineFailure(errno('ENOENT', 'spawn ffmpeg'))).toMatchObject({ code: 'ffmpeg_missing', retryable: false });
  });

  it('an abort (the worker shutting down) is retried', () => {
    expect(engineFailure(Object.assign(new Error('aborted'), { name: 'AbortError' }))).toMatchObject({ retryable: true });
  });

  it('storage: a missing object is final, an unavailable store is retried', () => {
    expect(storageFailure(new StorageObjectNotFoundError('s/video/x.h264'))).toMatchObject({ code: 'source_missing', retryable: false });
    expect(storageFailure(errno('ECONNREFUSED'))).toMatchObject({ code: 'storage_unavailable', retryable: true });
    expect(storageFailure(errno('ENOSPC'))).toMatchObject({ code: 'storage_unavailable', retryable: true });
    expect(storageFailure(errno('ENAMETOOLONG'))).toMatchObject({ code: 'internal_error', retryable: false });
  });

  it('anything else is retried (the last attempt announces it), and a known failure passes through', () => {
    expect(classifyComposeError(new Error('Connection terminated unexpectedly'))).toMatchObject({ code: 'internal_error', retryable: true });
    const known = new ComposeFailure('nothing_to_compose', 'nothing', false);
    expect(classifyComposeError(known)).toBe(known);
    expect(engineFailure(known)).toBe(known);
    expect(storageFailure(known)).toBe(known);
  });
});
