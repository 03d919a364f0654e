import { StorageObjectNotFoundError } from '../../media-ingest';
import { classifyComposeError, ComposeFailure, engineFailure, storageFailure } from './compose-errors';

const errno = (code: string, syscall?: string) => Object.assign(new Error(`${code} error`), { code, syscall });

describe('compose error mapping', () => {
  it('an ffmpeg failure is final (the same input fails the same way)', () => {
    const f = engineFailure(new Error('ffmpeg exited with code 1: Invalid data found when processing input'));
    expect(f).toMatchObject({ code: 'compose_failed', retryable: false });
    expect(f.message).toContain('Invalid data');
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
