import { DelayedError, type Job, WaitingError } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import { ComposeFailure, ComposeInterrupted } from './compose/compose-errors';
import type { RecordingComposer } from './compose/recording-composer.service';
import { COMPOSE_LEASE_LOST_FREE_DEFERRALS, MediaComposeProcessor } from './media-compose.processor';

/** A processor whose BullMQ worker and job are stubs. */
function processor(run: RecordingComposer['run']) {
  const composer = { run: jest.fn(run), failFinally: jest.fn() };
  const p = new MediaComposeProcessor(composer as unknown as RecordingComposer);
  const worker = { pause: jest.fn(async (_doNotWaitActive?: boolean) => undefined) };
  Object.defineProperty(p, 'worker', { get: () => worker });
  const job = {
    id: 'recording-compose-s1-auto',
    name: JobName.RecordingCompose,
    data: { sessionId: 's1', revision: 'auto' },
    token: 'token-1',
    attemptsMade: 0,
    moveToWait: jest.fn(async () => undefined),
    moveToDelayed: jest.fn(async () => undefined),
    progress: 0,
    updateProgress: jest.fn(async function (this: { progress: unknown }, progress: unknown) {
      this.progress = progress;
    }),
  } as unknown as Job & { moveToWait: jest.Mock; moveToDelayed: jest.Mock };
  return { p, composer, worker, job };
}

describe('MediaComposeProcessor on SIGTERM', () => {
  it('stops fetching before it aborts the running composition', async () => {
    let seen: AbortSignal | undefined;
    const { p, job, worker } = processor(async (_s, _r, signal) => {
      seen = signal;
      return { status: 'skipped', reason: 'no_session' };
    });
    await p.process(job);
    let abortedAtPause: boolean | undefined;
    worker.pause.mockImplementationOnce(async () => void (abortedAtPause = seen!.aborted));
    await p.beforeApplicationShutdown();
    expect(worker.pause).toHaveBeenCalledWith(true);
    expect(abortedAtPause).toBe(false);
    expect(seen!.aborted).toBe(true);
  });

  it('hands an interrupted composition back to the queue without using an attempt', async () => {
    const { p, job } = processor(async () => {
      throw new ComposeInterrupted('shutdown');
    });
    await expect(p.process(job)).rejects.toBeInstanceOf(WaitingError);
    expect(job.moveToWait).toHaveBeenCalledWith('token-1');
  });

  it('hands back, untouched, a job fetched after the shutdown began', async () => {
    const { p, job, composer } = processor(async () => ({ status: 'skipped', reason: 'no_session' }));
    await p.beforeApplicationShutdown();
    await expect(p.process(job)).rejects.toBeInstanceOf(WaitingError);
    expect(composer.run).not.toHaveBeenCalled();
    expect(job.moveToWait).toHaveBeenCalledWith('token-1');
  });

  it('puts a composition whose session another run is composing back as delayed, no attempt used', async () => {
    const { p, job } = processor(async () => ({ status: 'busy' }));
    const before = Date.now();
    await expect(p.process(job)).rejects.toBeInstanceOf(DelayedError);
    expect(job.moveToDelayed).toHaveBeenCalledWith(expect.any(Number), 'token-1');
    expect(job.moveToDelayed.mock.calls[0][0]).toBeGreaterThan(before);
  });
});

describe('MediaComposeProcessor when the lease is lost', () => {
  it('puts the job back without using an attempt a few times, then uses attempts (a run that always stalls ends)', async () => {
    const { p, job } = processor(async () => {
      throw new ComposeInterrupted('lease_lost');
    });
    for (let i = 0; i < COMPOSE_LEASE_LOST_FREE_DEFERRALS; i++) await expect(p.process(job)).rejects.toBeInstanceOf(DelayedError);
    expect(job.moveToDelayed).toHaveBeenCalledTimes(COMPOSE_LEASE_LOST_FREE_DEFERRALS);
    const failure = p.process(job);
    await expect(failure).rejects.toBeInstanceOf(ComposeFailure);
    await expect(failure).rejects.toMatchObject({ code: 'internal_error', retryable: true });
    expect(job.moveToDelayed).toHaveBeenCalledTimes(COMPOSE_LEASE_LOST_FREE_DEFERRALS);
    expect(job.progress).toEqual({ leaseLost: COMPOSE_LEASE_LOST_FREE_DEFERRALS + 1 });
  });
});
