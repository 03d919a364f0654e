import { Logger } from '@nestjs/common';
import { JobName } from '../../jobs/job-names';
import { EventProcessingStatus, EventSource, StreamStatus } from '../sessions';
import { StreamJobStillEndingError, ZoomEventHandlerService } from './zoom-event-handler.service';

/** The rtms_started path of the handler: which stream job it queues (collaborators faked). */
describe('ZoomEventHandlerService rtms_started', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  const OLD = 'wss://old.zoom.us';
  const NEW = 'wss://new.zoom.us';

  function setup(attach: { outcome: 'new' | 'duplicate' | 'failover'; revived?: boolean; status: StreamStatus }, opts: { row?: { status: StreamStatus; serverUrls: string }; jobState?: string } = {}) {
    const event = (serverUrls: string) => ({
      id: 'ev1',
      status: EventProcessingStatus.Received,
      source: EventSource.Webhook,
      eventType: 'meeting.rtms_started',
      payload: { event: 'meeting.rtms_started', payload: { meeting_uuid: 'uuid1', rtms_stream_id: 's1', server_urls: serverUrls } },
    });
    let current = event(NEW);
    const events = { getEvent: jest.fn(async () => current), finishEvent: jest.fn() };
    const streams = {
      attachStarted: jest.fn(async () => ({ session: { id: 'sess1' }, stream: { rtmsStreamId: 's1', status: attach.status }, outcome: attach.outcome, revived: attach.revived })),
      findByStreamId: jest.fn(async () => (opts.row ? { rtmsStreamId: 's1', sessionId: 'sess1', ...opts.row } : null)),
    };
    const producer = { enqueue: jest.fn(), requeue: jest.fn(async () => true), jobState: jest.fn(async () => opts.jobState ?? 'failed') };
    const signals = { publish: jest.fn() };
    const config = { get: () => ({ allowedHosts: ['*.zoom.us'], allowInsecureWs: false }) };
    const metrics = { counter: () => ({ inc: () => undefined }) };
    const handler = new ZoomEventHandlerService(events as never, streams as never, producer as never, signals as never, config as never, metrics as never, {} as never);
    return { handler, streams, producer, signals, events, setUrls: (u: string) => (current = event(u)) };
  }

  it('a failover that revived a failed stream replaces its failed job (requeue), so the stream runs again', async () => {
    const { handler, producer, signals, events } = setup({ outcome: 'failover', revived: true, status: StreamStatus.Pending }, { row: { status: StreamStatus.Failed, serverUrls: OLD } });
    await handler.handle('ev1', false);
    expect(producer.requeue).toHaveBeenCalledWith(JobName.StreamRun, { rtmsStreamId: 's1', sessionId: 'sess1' });
    expect(producer.enqueue).not.toHaveBeenCalled();
    expect(signals.publish).toHaveBeenCalledWith({ type: 'failover', rtmsStreamId: 's1', serverUrls: NEW });
    expect(events.finishEvent).toHaveBeenCalledWith('ev1', EventProcessingStatus.Processed, expect.anything());
  });

  it('a duplicate of a failed stream (same server_urls) queues nothing', async () => {
    const { handler, producer, setUrls } = setup({ outcome: 'duplicate', status: StreamStatus.Failed }, { row: { status: StreamStatus.Failed, serverUrls: OLD } });
    setUrls(OLD);
    await handler.handle('ev1', false);
    expect(producer.requeue).not.toHaveBeenCalled();
    expect(producer.enqueue).not.toHaveBeenCalled();
  });

  it('a new stream is enqueued; a duplicate of a pending one re-queues only a finished job', async () => {
    const fresh = setup({ outcome: 'new', status: StreamStatus.Pending });
    await fresh.handler.handle('ev1', false);
    expect(fresh.producer.enqueue).toHaveBeenCalledWith(JobName.StreamRun, { rtmsStreamId: 's1', sessionId: 'sess1' });
    const dup = setup({ outcome: 'duplicate', status: StreamStatus.Pending }, { row: { status: StreamStatus.Pending, serverUrls: NEW } });
    await dup.handler.handle('ev1', false);
    expect(dup.producer.requeue).toHaveBeenCalledWith(JobName.StreamRun, { rtmsStreamId: 's1', sessionId: 'sess1' });
  });

  it('a failover for a failed stream whose job is still ending is retried before anything changes (last attempt: applied)', async () => {
    const { handler, streams, producer } = setup({ outcome: 'failover', revived: true, status: StreamStatus.Pending }, { row: { status: StreamStatus.Failed, serverUrls: OLD }, jobState: 'active' });
    await expect(handler.handle('ev1', false)).rejects.toBeInstanceOf(StreamJobStillEndingError);
    expect(streams.attachStarted).not.toHaveBeenCalled();
    await handler.handle('ev1', true);
    expect(streams.attachStarted).toHaveBeenCalledTimes(1);
    expect(producer.requeue).toHaveBeenCalledTimes(1);
  });
});
