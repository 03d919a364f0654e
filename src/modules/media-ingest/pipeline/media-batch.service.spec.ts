import { Logger } from '@nestjs/common';
import { JobName } from '../../../jobs/job-names';
import type { MediaItem } from '../../../jobs/job-payloads';
import { MediaBatchService } from './media-batch.service';

const item = (timestamp: number): MediaItem => ({ msgType: 17, userId: 1, timestamp, data: `line ${timestamp}`, receivedAt: 1 });
const A = { sessionId: 's1', rtmsStreamId: 'a' };
const B = { sessionId: 's2', rtmsStreamId: 'b' };

/** The service with its queue unreachable and no spill: what it holds at shutdown is dropped and noted for the timeline. */
function service(recordEvent: jest.Mock) {
  const config = {
    get: (key: string) =>
      key === 'rtms'
        ? { ingest: { batchSpillMaxBytes: 0, batchMaxItems: 50, batchMaxBytes: 1e6, batchFlushMs: 60_000, batchMaxBufferedBytes: 1e6 } }
        : { audioSpoolDir: '/nonexistent', spoolHost: 'host-1' },
  };
  const producer = { enqueueBulk: jest.fn().mockRejectedValue(new Error('queue refused')) };
  const holds = { add: jest.fn().mockResolvedValue(undefined), release: jest.fn().mockResolvedValue([]) };
  const registry = { counter: () => ({ inc: () => undefined }) };
  const metrics = { batches: { inc: () => undefined } };
  return new MediaBatchService(producer as never, metrics as never, config as never, holds as never, registry as never, { recordEvent } as never);
}

describe('MediaBatchService at shutdown', () => {
  let errors: jest.SpyInstance;
  beforeEach(() => {
    errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('writes media.dropped to the timeline of each session', async () => {
    const recordEvent = jest.fn().mockResolvedValue({});
    const svc = service(recordEvent);
    svc.batcher.add(A, JobName.TranscriptSave, item(1));
    svc.batcher.add(B, JobName.TranscriptSave, item(2));
    await svc.onApplicationShutdown();
    expect(recordEvent.mock.calls.map(([session, input]) => [session, input.eventType, input.payload.items])).toEqual([
      ['s1', 'media.dropped', 1],
      ['s2', 'media.dropped', 1],
    ]);
    expect(errors.mock.calls.some(([m]) => String(m).includes('timeline'))).toBe(false);
  });

  it('waits at most 3 s for timeline events (Postgres not answering), then logs what was not written', async () => {
    jest.useFakeTimers();
    const recordEvent = jest.fn(() => new Promise(() => undefined)); // blackholed: never answers
    const svc = service(recordEvent);
    for (let ts = 0; ts < 3; ts++) svc.batcher.add(A, JobName.TranscriptSave, item(ts));
    svc.batcher.add(B, JobName.ChatSave, item(9));
    let done = false;
    const shutdown = svc.onApplicationShutdown().then(() => (done = true));
    await jest.advanceTimersByTimeAsync(2900);
    expect(done).toBe(false);
    await jest.advanceTimersByTimeAsync(200);
    expect(done).toBe(true);
    await shutdown;
    const line = errors.mock.calls.map(([m]) => String(m)).find((m) => m.includes('timeline'));
    expect(line).toMatch(/2 media timeline event\(s\) \(media\.dropped, 4 item\(s\)\) not written/);
    expect(line).toMatch(/session\(s\) s1, s2/);
  });
});
