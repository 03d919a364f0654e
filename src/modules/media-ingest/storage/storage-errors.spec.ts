import { S3ServiceException } from '@aws-sdk/client-s3';
import { UnrecoverableError } from 'bullmq';
import { UnsafeStorageKeyError } from './media-storage';
import { isStorageUnavailable, storageRetryDelayMs, StorageUnavailableError } from './storage-errors';
import { decideStorageRetry } from '../savers/storage-retry';
import { describePending } from './storage-health.service';
import { totalsOf } from './storage-pending';

const errno = (code: string) => Object.assign(new Error(`${code}: failed`), { code });
const s3 = (name: string, status: number) => new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: name });

describe('isStorageUnavailable', () => {
  it.each(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EIO', 'ENOTDIR', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND'])('local/network %s: unavailable', (code) => {
    expect(isStorageUnavailable(errno(code))).toBe(true);
  });

  it('S3 5xx, SlowDown/503, throttling and refused credentials: unavailable', () => {
    expect(isStorageUnavailable(s3('InternalError', 500))).toBe(true);
    expect(isStorageUnavailable(s3('SlowDown', 503))).toBe(true);
    expect(isStorageUnavailable(s3('ServiceUnavailable', 503))).toBe(true);
    expect(isStorageUnavailable(s3('Whatever', 502))).toBe(true);
    expect(isStorageUnavailable(s3('TooManyRequests', 429))).toBe(true);
    expect(isStorageUnavailable(s3('AccessDenied', 403))).toBe(true);
    expect(isStorageUnavailable(s3('NoSuchBucket', 404))).toBe(true);
  });

  it('network errors wrapped by the SDK (cause, AggregateError) are found', () => {
    expect(isStorageUnavailable(new Error('socket', { cause: errno('ECONNREFUSED') }))).toBe(true);
    expect(isStorageUnavailable(new AggregateError([errno('ECONNREFUSED'), errno('ECONNREFUSED')], 'connect'))).toBe(true);
    expect(isStorageUnavailable(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toBe(true);
  });

  it('an error nobody foresaw holds the media (unavailable) rather than dropping it', () => {
    expect(isStorageUnavailable(new Error('AWS SDK error wrapper for TimeoutError: connect ECONNRESET 127.0.0.1:1'))).toBe(true);
    expect(isStorageUnavailable(new Error('something odd'))).toBe(true);
  });

  it('a refused key, a bad request or a bad argument is permanent', () => {
    expect(isStorageUnavailable(new UnsafeStorageKeyError('Unsafe storage key refused: "../x"'))).toBe(false);
    expect(isStorageUnavailable(new UnrecoverableError('frame.save got msgType 99'))).toBe(false);
    expect(isStorageUnavailable(s3('InvalidArgument', 400))).toBe(false);
    expect(isStorageUnavailable(s3('EntityTooLarge', 400))).toBe(false);
    expect(isStorageUnavailable(new TypeError('x is undefined'))).toBe(false);
    expect(isStorageUnavailable(errno('EISDIR'))).toBe(false);
    expect(isStorageUnavailable(null)).toBe(false);
    expect(isStorageUnavailable('ENOSPC')).toBe(false);
  });

  it('StorageUnavailableError is itself unavailable', () => {
    expect(isStorageUnavailable(new StorageUnavailableError({}, errno('ENOSPC'), { streams: [] }))).toBe(true);
  });
});

describe('storage retry backoff', () => {
  const one = () => 0.999999; // no jitter (upper end)
  it('doubles from the base and is capped at the max delay; jitter stays in [½, 1]', () => {
    expect([1, 2, 3, 4, 5, 6, 10, 60].map((n) => storageRetryDelayMs(n, 1000, 10_000, one))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000]);
    for (let i = 0; i < 50; i++) {
      const d = storageRetryDelayMs(3, 1000, 10_000);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });

  const retry = { windowMs: 60_000, baseMs: 1000, maxDelayMs: 20_000, pendingMaxBytes: 1e9 };
  it('retries inside the window, the last try at its end, and gives up on a failure after it', () => {
    const since = 1_000_000;
    expect(decideStorageRetry(since, { since, tries: 0 }, retry, one)).toEqual({ action: 'retry', tries: 1, at: since + 1000 });
    // Near the end the delay is cut to the window's end: one last try there.
    expect(decideStorageRetry(since + 55_000, { since, tries: 6 }, retry, one)).toEqual({ action: 'retry', tries: 7, at: since + 60_000 });
    expect(decideStorageRetry(since + 60_000, { since, tries: 7 }, retry, one)).toEqual({ action: 'give_up', reason: 'retry_window', since });
  });

  it('hours, not seconds: the default window survives far more than the old 5 attempts', () => {
    const hours = { windowMs: 6 * 3600_000, baseMs: 2000, maxDelayMs: 300_000, pendingMaxBytes: 1e9 };
    let now = 0;
    let tries = 0;
    for (;;) {
      const d = decideStorageRetry(now, { since: 0, tries }, hours, one);
      if (d.action === 'give_up') break;
      tries = d.tries;
      now = d.at;
    }
    expect(now).toBe(6 * 3600_000);
    expect(tries).toBeGreaterThan(60); // capped at 5 min between tries
  });
});

describe('pending totals and the outage line', () => {
  it('adds items and bytes per kind and keeps the oldest failure', () => {
    const t = totalsOf([
      { since: 2000, tries: 1, bytes: 1000, items: { video_frame: 3, share_frame: 1 } },
      { since: 1000, tries: 4, bytes: 300, items: { chat: 3 } },
    ]);
    expect(t).toEqual({ jobs: 2, bytes: 1300, since: 1000, items: { video_frame: 3, share_frame: 1, chat: 3 }, bytesByKind: { video_frame: 750, share_frame: 250, chat: 300 } });
    expect(describePending({ items: { video_frame: 120, chat: 3 }, bytes: 1.2 * 1024 * 1024 })).toBe('120 video frames, 3 chat messages (1.2 MB)');
  });
});
