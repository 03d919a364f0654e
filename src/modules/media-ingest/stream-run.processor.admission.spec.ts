import { DelayedError, Job } from 'bullmq';
import type { StreamRunPayload } from '../../jobs/job-payloads';
import { RunningStreams } from './stream/running-streams';
import { StreamRunProcessor } from './stream-run.processor';
import { STARVING_PUT_BACKS } from './workers/fair-share';
import type { StreamWorkerPresence } from './workers/stream-worker-presence';

type Data = StreamRunPayload & { putBacks?: { count: number; since: number } };

/** The processor's admission step (fair share) with a stand-in presence and job. */
function setup(decide: (job: { jobId?: string; starving?: boolean }) => boolean) {
  const asked: Array<{ jobId?: string; starving?: boolean }> = [];
  const presence = {
    admit: async (job: { jobId?: string; starving?: boolean }) => {
      asked.push(job);
      return decide(job) ? { admit: true } : { admit: false, retryAt: Date.now() + 200, decision: { admit: false, share: 3, reason: 'above_share' } };
    },
  } as unknown as StreamWorkerPresence;
  const processor = new StreamRunProcessor({} as never, new RunningStreams(), {} as never, {} as never, presence, {} as never);
  const job = (data: Data) => {
    const j = {
      id: data.rtmsStreamId,
      token: 'tok',
      data,
      updateData: jest.fn(async (d: Data) => void (j.data = d)),
      moveToDelayed: jest.fn(async () => undefined),
    };
    return j;
  };
  const admitOrPutBack = (j: ReturnType<typeof job>) => (processor as unknown as { admitOrPutBack(job: Job<Data>): Promise<true> }).admitOrPutBack(j as unknown as Job<Data>);
  return { asked, job, admitOrPutBack };
}

describe('StreamRunProcessor admission (fair share)', () => {
  it('counts each put-back in the job data, and a job put back too often is taken regardless (starving), its count cleared', async () => {
    const { asked, job, admitOrPutBack } = setup((j) => j.starving === true);
    const j = job({ rtmsStreamId: 'st1', sessionId: 's1' });
    for (let i = 1; i <= STARVING_PUT_BACKS; i++) {
      await expect(admitOrPutBack(j)).rejects.toBeInstanceOf(DelayedError);
      expect(j.data.putBacks).toMatchObject({ count: i });
    }
    expect(j.moveToDelayed).toHaveBeenCalledTimes(STARVING_PUT_BACKS);
    await expect(admitOrPutBack(j)).resolves.toBe(true);
    expect(asked.at(-1)).toEqual({ jobId: 'st1', starving: true });
    expect(j.data).toEqual({ rtmsStreamId: 'st1', sessionId: 's1' });
  });

  it('a job first put back over STARVING_AFTER_MS ago is starving', async () => {
    const { asked, job, admitOrPutBack } = setup(() => true);
    await admitOrPutBack(job({ rtmsStreamId: 'st2', sessionId: 's1', putBacks: { count: 1, since: Date.now() - 1_500 } }));
    expect(asked).toEqual([{ jobId: 'st2', starving: true }]);
  });

  it('an admitted job never put back is not written to', async () => {
    const { asked, job, admitOrPutBack } = setup(() => true);
    const j = job({ rtmsStreamId: 'st3', sessionId: 's1' });
    await admitOrPutBack(j);
    expect(asked).toEqual([{ jobId: 'st3', starving: false }]);
    expect(j.updateData).not.toHaveBeenCalled();
  });
});
