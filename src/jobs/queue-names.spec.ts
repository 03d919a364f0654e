import { ALL_QUEUES, parseWorkerQueues, QueueName } from './queue-names';

describe('parseWorkerQueues', () => {
  it('empty means every queue', () => {
    expect(parseWorkerQueues('')).toEqual(ALL_QUEUES);
    expect(parseWorkerQueues(undefined)).toEqual(ALL_QUEUES);
    expect(parseWorkerQueues(' , ')).toEqual(ALL_QUEUES);
  });

  it('parses, trims and de-duplicates names', () => {
    expect(parseWorkerQueues(' rtms-streams, media-frames ,rtms-streams')).toEqual([QueueName.RtmsStreams, QueueName.MediaFrames]);
  });

  it('refuses unknown names, naming each one and listing the known queues', () => {
    expect(() => parseWorkerQueues('zoom-events,nope,also-bad')).toThrow(/unknown queue\(s\): nope, also-bad\. Known queues: zoom-events/);
  });
});
