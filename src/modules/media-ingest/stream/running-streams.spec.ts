import { RunningStream, RunningStreams } from './running-streams';

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
