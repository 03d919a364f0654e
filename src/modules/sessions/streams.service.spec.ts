import { Logger } from '@nestjs/common';
import { JobName } from '../../jobs/job-names';
import { RtmsStreamEntity, StreamStatus } from './entities/rtms-stream.entity';
import { EventSource } from './entities/session-event.entity';
import { SessionEntity, SessionStatus, ZoomProduct } from './entities/session.entity';
import { StreamsService } from './streams.service';

/** StreamsService.attachStarted for a stream that exists already (repositories faked). */
describe('StreamsService.attachStarted on a known stream', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  const OLD = 'wss://old.zoom.us';
  const NEW = 'wss://new.zoom.us';

  function setup(streamStatus: StreamStatus, sessionStatus: SessionStatus) {
    const row = { rtmsStreamId: 's1', sessionId: 'sess1', serverUrls: OLD, status: streamStatus, failoverCount: 0, ownerWorkerId: null, failureReason: streamStatus === StreamStatus.Failed ? 'window exhausted' : null } as RtmsStreamEntity;
    let session = { id: 'sess1', status: sessionStatus } as SessionEntity;
    const moves: string[] = [];
    const recorded: Array<{ eventType: string; payload?: unknown }> = [];
    const streams = { lockStream: jest.fn(), findByStreamId: jest.fn(async () => row), save: jest.fn(async (r: RtmsStreamEntity) => r) };
    const sessionRows = { lockMeeting: jest.fn(), findByIdOrFail: jest.fn(async () => session) };
    const sessions = {
      transition: jest.fn(async (_id: string, to: SessionStatus) => {
        moves.push(`${session.status}→${to}`);
        session = { ...session, status: to } as SessionEntity;
        return { session, changed: true };
      }),
    };
    const events = { recordEvent: jest.fn(async (_id: string, e: { eventType: string; payload?: unknown }) => void recorded.push(e)) };
    const dataSource = { transaction: (cb: (em: unknown) => unknown) => cb({}) };
    const svc = new StreamsService(streams as never, sessionRows as never, {} as never, dataSource as never, sessions as never, events as never, {} as never, {} as never);
    const attach = (serverUrls: string) => svc.attachStarted({ product: ZoomProduct.Meeting, meetingIdentity: 'uuid1', meetingId: '1', rtmsStreamId: 's1', serverUrls, source: EventSource.Webhook });
    return { row, moves, recorded, attach };
  }

  it('a failed stream with new server_urls is a failover that revives it (pending again, session streaming again)', async () => {
    const { row, moves, recorded, attach } = setup(StreamStatus.Failed, SessionStatus.Failed);
    const result = await attach(NEW);
    expect(result).toMatchObject({ outcome: 'failover', revived: true });
    expect(row).toMatchObject({ status: StreamStatus.Pending, serverUrls: NEW, failoverCount: 1, failureReason: null, ownerWorkerId: null });
    expect(moves).toEqual(['failed→rtms_start_requested', 'rtms_start_requested→streaming']);
    expect(result.session.status).toBe(SessionStatus.Streaming);
    expect(recorded).toEqual([expect.objectContaining({ eventType: 'stream.failover', payload: { previous_server_urls: OLD, server_urls: NEW, previous_status: 'failed' } })]);
  });

  it('a failed stream of a session that still streams (another stream) is revived without moving the session', async () => {
    const { moves, attach } = setup(StreamStatus.Failed, SessionStatus.Streaming);
    expect(await attach(NEW)).toMatchObject({ outcome: 'failover', revived: true });
    expect(moves).toEqual([]);
  });

  it('a failed stream with the same server_urls stays a duplicate', async () => {
    const { row, moves, attach } = setup(StreamStatus.Failed, SessionStatus.Failed);
    const result = await attach(OLD);
    expect(result.outcome).toBe('duplicate');
    expect(result.revived).toBeUndefined();
    expect(row).toMatchObject({ status: StreamStatus.Failed, failoverCount: 0 });
    expect(moves).toEqual([]);
  });

  it('a stopped stream, or a failed one of a stopped session, stays a duplicate whatever the server_urls', async () => {
    for (const [stream, session] of [
      [StreamStatus.Stopped, SessionStatus.Stopped],
      [StreamStatus.Stopped, SessionStatus.Streaming],
      [StreamStatus.Failed, SessionStatus.Stopped],
    ] as const) {
      const { row, attach } = setup(stream, session);
      expect((await attach(NEW)).outcome).toBe('duplicate');
      expect(row).toMatchObject({ status: stream, serverUrls: OLD });
    }
  });

  it('a running stream with new server_urls is a plain failover (not revived)', async () => {
    const { row, moves, attach } = setup(StreamStatus.Active, SessionStatus.Streaming);
    const result = await attach(NEW);
    expect(result).toMatchObject({ outcome: 'failover' });
    expect(result.revived).toBeUndefined();
    expect(row).toMatchObject({ status: StreamStatus.Active, serverUrls: NEW, failoverCount: 1 });
    expect(moves).toEqual([]);
  });
});

/**
 * StreamsService.markStopped: a stop because the meeting ended tells zoom-rooms (its door is
 * the rooms.meeting-ended job), so the session's rooms' delayed leaves never reach Zoom.
 */
describe('StreamsService.markStopped and the meeting end', () => {
  function setup(streamStatus: StreamStatus, sessionStatus: SessionStatus) {
    const row = { rtmsStreamId: 's1', sessionId: 'sess1', status: streamStatus, ownerWorkerId: 'w1' } as RtmsStreamEntity;
    const session = { id: 'sess1', status: sessionStatus } as SessionEntity;
    const streams = { lockStream: jest.fn(), findByStreamId: jest.fn(async () => row), save: jest.fn(async (r: RtmsStreamEntity) => r), countOpenForSession: jest.fn(async () => 0) };
    const sessionRows = { findByIdOrFail: jest.fn(async () => session) };
    const sessions = { transition: jest.fn(async (_id: string, to: SessionStatus) => ({ session: { ...session, status: to }, changed: true })) };
    const events = { recordEvent: jest.fn() };
    const dataSource = { transaction: (cb: (em: unknown) => unknown) => cb({}) };
    const requeue = jest.fn(async () => true);
    const svc = new StreamsService(streams as never, sessionRows as never, {} as never, dataSource as never, sessions as never, events as never, {} as never, { requeue } as never);
    return { svc, requeue, row };
  }

  it('stop reason 6 (STOP_BC_MEETING_ENDED) queues rooms.meeting-ended for the session, also when the stream had ended (the second report of the stop)', async () => {
    const t = setup(StreamStatus.Active, SessionStatus.Streaming);
    await t.svc.markStopped('s1', 6, EventSource.Webhook);
    expect(t.row.status).toBe(StreamStatus.Stopped);
    expect(t.requeue).toHaveBeenCalledWith(JobName.RoomsMeetingEnded, { sessionId: 'sess1' });
    const again = setup(StreamStatus.Failed, SessionStatus.Failed);
    await again.svc.markStopped('s1', 6, EventSource.Worker);
    expect(again.requeue).toHaveBeenCalledWith(JobName.RoomsMeetingEnded, { sessionId: 'sess1' });
  });

  it.each([null, 1, 3, 8, 20, 25])('stop reason %p: the meeting goes on, nothing is queued', async (reason) => {
    const t = setup(StreamStatus.Active, SessionStatus.Streaming);
    await t.svc.markStopped('s1', reason, EventSource.Webhook);
    expect(t.requeue).not.toHaveBeenCalled();
  });
});
