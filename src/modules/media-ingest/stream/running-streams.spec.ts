import { LEAVING_HOOK_TIMEOUT_MS, RunningStream, RunningStreams } from './running-streams';

const stream = (id: string) => {
  const renewed: number[] = [];
  const s: RunningStream = { rtmsStreamId: id, abort: () => undefined, leaseRenewed: (at) => renewed.push(at), done: Promise.resolve() };
  return { s, renewed };
};

describe('RunningStreams lease renewals', () => {
  it('a renewal confirmed while the job was still starting (before its stream joined) is handed to the stream when it joins', () => {
    const running = new RunningStreams();
    running.leaseRenewed('st-1', 100);
    running.leaseRenewed('st-1', 400);
    running.leaseRenewed('st-1', 300); // a late reply never moves the lease back
    const { s, renewed } = stream('st-1');
    running.add(s);
    expect(renewed).toEqual([400]);
    running.leaseRenewed('st-1', 700);
    expect(renewed).toEqual([400, 700]);
  });

  it('forgets a job once it ended, so a later run of the same stream starts from its own fetch', () => {
    const running = new RunningStreams();
    running.leaseRenewed('st-2', 100);
    running.jobEnded('st-2');
    const { s, renewed } = stream('st-2');
    running.add(s);
    expect(renewed).toEqual([]);
  });
});

describe('RunningStreams shutdown', () => {
  it('runs the leaving hooks (the worker says it takes nothing) before any stream is handed back, once for every caller', async () => {
    const running = new RunningStreams();
    const order: string[] = [];
    running.onLeaving(async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('leaving');
    });
    for (const id of ['s1', 's2']) running.add({ rtmsStreamId: id, abort: () => order.push(`abort ${id}`), leaseRenewed: () => undefined, done: Promise.resolve() });
    // onModuleDestroy, beforeApplicationShutdown and the BullMQ worker's 'closing' all call it.
    await Promise.all([running.abortAll(), running.onModuleDestroy(), running.beforeApplicationShutdown()]);
    expect(order.slice(0, 3)).toEqual(['leaving', 'abort s1', 'abort s2']);
    expect(order.filter((o) => o === 'leaving')).toHaveLength(1);
    expect(running.closing).toBe(true);
  });

  it('a leaving hook that hangs (Redis unreachable) or throws delays the hand-back by LEAVING_HOOK_TIMEOUT_MS at most', async () => {
    const running = new RunningStreams();
    running.onLeaving(() => new Promise<void>(() => undefined));
    running.onLeaving(() => {
      throw new Error('no');
    });
    let aborted = false;
    running.add({ rtmsStreamId: 's1', abort: () => (aborted = true), leaseRenewed: () => undefined, done: Promise.resolve() });
    const t0 = Date.now();
    await running.abortAll();
    expect(aborted).toBe(true);
    expect(Date.now() - t0).toBeLessThan(LEAVING_HOOK_TIMEOUT_MS + 300);
  });
});
