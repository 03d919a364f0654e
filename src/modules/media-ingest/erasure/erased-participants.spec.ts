import { FAILED_MEDIA_JOB_KEEP_SEC, jobOptionsFor } from '../../../jobs/job-options';
import { JobName } from '../../../jobs/job-names';
import { ErasedParticipants, erasedMarkerTtlSec } from './erased-participants';

describe('ErasedParticipants: how long the marker is kept', () => {
  it('outlives a failed media job (kept in Redis with its media, retryable from Bull Board)', () => {
    const config = { queues: { keepFailedMedia: 100 } } as never;
    const failedKeptSec = (jobOptionsFor(JobName.FrameSave, { streams: [] } as never, config).removeOnFail as { age: number }).age;
    expect(failedKeptSec).toBe(FAILED_MEDIA_JOB_KEEP_SEC);
    // A batch received before the erasure, spilled for a day, then failing after the storage retry window.
    const retryWindowMs = 15 * 60_000;
    expect(erasedMarkerTtlSec(retryWindowMs)).toBeGreaterThanOrEqual(failedKeptSec + 86_400 + retryWindowMs / 1000);
  });

  it('is set with that TTL on every mark', async () => {
    const evals: unknown[][] = [];
    const redis = { eval: async (...args: unknown[]) => void evals.push(args) };
    const config = { get: (k: string) => (k === 'queues' ? { prefix: 'p' } : { retry: { windowMs: 60_000 } }) };
    await new ErasedParticipants(redis as never, config as never).mark('s1', ['42'], 1000);
    expect(evals[0].slice(1, 5)).toEqual([1, 'p:media-erased:s1', '1000', String(erasedMarkerTtlSec(60_000))]);
    expect(Number(evals[0][4])).toBeGreaterThan(FAILED_MEDIA_JOB_KEEP_SEC);
  });
});
