import { JobsOptions } from 'bullmq';
import { JobName } from './job-names';
import { jobOptionsFor } from './job-options';

const rooms = { zoomRooms: { attempts: 7, backoffMs: 1500 }, queues: { keepFailedMedia: 25 } } as Parameters<typeof jobOptionsFor>[2];

/** How long BullMQ waits in all between the first attempt and the last (exponential: delay·2ⁿ⁻¹ before retry n). */
function totalBackoffMs(opts: JobsOptions): number {
  const backoff = opts.backoff;
  if (typeof backoff !== 'object' || backoff.type !== 'exponential') throw new Error(`not an exponential backoff: ${JSON.stringify(backoff)}`);
  let total = 0;
  for (let retry = 1; retry < (opts.attempts ?? 1); retry++) total += (backoff.delay ?? 0) * 2 ** (retry - 1);
  return total;
}

describe('job options', () => {
  it('keep no saved media batch in Redis and only the newest given-up ones, whose payload is the media', () => {
    const batch = { batchId: 'b1', streams: [] };
    for (const name of [JobName.FrameSave, JobName.TranscriptSave, JobName.ChatSave] as const) {
      expect(jobOptionsFor(name, batch, rooms)).toMatchObject({ removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600, count: 25 } });
    }
    // Other jobs keep the queue's defaults (set on the queue, not per job).
    expect(jobOptionsFor(JobName.StreamRun, { rtmsStreamId: 'st1', sessionId: 's1' }, rooms)).not.toHaveProperty('removeOnComplete');
    expect(jobOptionsFor(JobName.MediaPurge, { rtmsStreamId: 'st1' }, rooms)).not.toHaveProperty('removeOnFail');
  });

  it('give the deauthorize job (Zoom requires the tokens gone) retries that outlast an outage of about an hour, with its id', () => {
    const opts = jobOptionsFor(JobName.OAuthDeauthorize, { eventId: 'e9', zoomUserId: 'u1' }, rooms);
    expect(opts.attempts).toBeGreaterThanOrEqual(10);
    // The first retries come within seconds: a database failover heals at once.
    expect(opts.backoff).toMatchObject({ type: 'exponential', delay: 2000 });
    expect(totalBackoffMs(opts)).toBeGreaterThanOrEqual(60 * 60_000);
    expect(totalBackoffMs(opts)).toBeLessThanOrEqual(2 * 60 * 60_000);
    expect(opts.jobId).toBe('oauth-deauthorize-e9');
  });
});
