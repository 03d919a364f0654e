import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { FindOperator } from 'typeorm';
import type { RoomJobPayload } from '../../jobs/job-payloads';
import { ZoomCallPolicy } from '../../zoom/call/zoom-call-policy';
import type { ZoomResponse } from '../../zoom/http/zoom-http.client';
import { ZoomTransportError } from '../../zoom/zoom-errors';
import { JobName } from '../../jobs/job-names';
import { AppEventType } from '../app-events';
import { failedJoinMayBeInMeeting, mayBeInMeeting, RoomDispatchEntity, RoomDispatchStatus } from './entities/room-dispatch.entity';
import { isAlreadyInMeeting, RoomDispatchRunner } from './room-dispatch.runner';
import { RoomDispatchesService } from './room-dispatches.service';

const ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const T0 = new Date('2026-12-01T10:00:00.000Z');

const dispatch = (over: Partial<RoomDispatchEntity> = {}): RoomDispatchEntity =>
  ({
    id: ID,
    roomId: 'room-1',
    roomName: null,
    meetingNumber: '81234567890',
    passcodeEnc: null,
    sessionId: null,
    owner: null,
    source: 'api',
    status: RoomDispatchStatus.Joining,
    leaveAfterSeconds: 0,
    round: 1,
    failedStep: null,
    joinSentAt: null,
    joinedAt: null,
    leaveAt: null,
    leftAt: null,
    completedAt: null,
    attempts: 0,
    throttledCount: 0,
    zoomStatus: null,
    zoomCode: null,
    zoomMessage: null,
    error: null,
    nextAttemptAt: null,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  }) as RoomDispatchEntity;

/** One room_dispatches row in memory, with the conditional-update semantics the runner relies on. */
class FakeRows {
  constructor(public row: RoomDispatchEntity) {}

  private matches(where: Record<string, unknown>): boolean {
    const r = this.row as unknown as Record<string, unknown>;
    return Object.entries(where).every(([k, v]) => {
      if (v instanceof FindOperator) {
        if (v.type === 'in') return (v.value as unknown[]).includes(r[k]);
        if (v.type === 'isNull') return r[k] === null;
        throw new Error(`operator ${v.type} not faked`);
      }
      if (v instanceof Date) return r[k] instanceof Date && (r[k] as Date).getTime() === v.getTime();
      return r[k] === v;
    });
  }

  private copy = (): RoomDispatchEntity => ({ ...this.row });

  update = jest.fn(async (where: Record<string, unknown>, fields: Record<string, unknown>) => {
    if (!this.matches(where)) return { affected: 0 };
    Object.assign(this.row, fields);
    return { affected: 1 };
  });
  findOne = jest.fn(async ({ where }: { where: Record<string, unknown> }) => (this.matches(where) ? this.copy() : null));
  findOneBy = jest.fn(async (where: Record<string, unknown>) => (this.matches(where) ? this.copy() : null));
  findOneByOrFail = jest.fn(async () => this.copy());
  increment = jest.fn(async (_where: unknown, column: 'attempts', by: number) => {
    this.row[column] += by;
  });
  manager = { transaction: async <T>(fn: (em: unknown) => Promise<T>) => fn({ getRepository: () => this }) };
}

const answer = (status: number, json?: unknown, headers: Record<string, string> = {}): ZoomResponse => ({ status, json, headers: new Headers(headers) });

function setup(row: RoomDispatchEntity, s2s: { getAccountToken: () => Promise<string>; invalidate: () => Promise<void> } = { getAccountToken: async () => 'token', invalidate: async () => undefined }) {
  const rows = new FakeRows(row);
  const sendEvent = jest.fn<Promise<ZoomResponse>, [string, string, Record<string, string>, string]>(async () => answer(202));
  const leaveNow = jest.fn(async () => undefined);
  const enqueue = jest.fn(async () => undefined);
  const reserve = jest.fn(async () => ({ reserved: true, waitMs: 0 }));
  const inc = jest.fn();
  const recordEvent = jest.fn(async () => undefined);
  const recordAppEvent = jest.fn(async () => undefined);
  const runner = new RoomDispatchRunner(
    rows as never,
    { sendEvent, calls: { inc } } as never,
    new ZoomCallPolicy(),
    s2s as never,
    { reserve, penalize: async () => undefined } as never,
    { decrypt: () => 'pw' } as never,
    { enqueue } as never,
    { leaveNow, outcomes: { inc } } as never,
    { recordEvent } as never,
    { get: () => ({ maxThrottled: 5 }) } as never,
    { histogram: () => ({ observe: () => undefined }) } as never,
    { record: recordAppEvent } as never,
  );
  const moveToDelayed = jest.fn(async () => undefined);
  const job = { data: { dispatchId: ID, round: row.round }, token: 'lock', moveToDelayed } as unknown as Job<RoomJobPayload>;
  const calls = (method: string) => sendEvent.mock.calls.filter(([, m]) => m === method);
  return { rows, runner, job, sendEvent, leaveNow, enqueue, reserve, moveToDelayed, calls, recordEvent, recordAppEvent };
}

beforeAll(() => Logger.overrideLogger(false));

describe('mayBeInMeeting: which cancelled dispatch has a room to take out', () => {
  it.each([
    { what: 'cancelled, join sent, no answer recorded (the crash window)', over: { status: RoomDispatchStatus.Cancelled, joinSentAt: T0 }, expected: true },
    { what: 'cancelled after Zoom joined the room', over: { status: RoomDispatchStatus.Cancelled, joinSentAt: T0, joinedAt: T0 }, expected: true },
    { what: 'cancelled after Zoom joined the room (a row from before join_sent_at)', over: { status: RoomDispatchStatus.Cancelled, joinedAt: T0 }, expected: true },
    { what: 'cancelled before any join went to Zoom', over: { status: RoomDispatchStatus.Cancelled }, expected: false },
    { what: 'cancelled, and the room left', over: { status: RoomDispatchStatus.Cancelled, joinSentAt: T0, leftAt: T0 }, expected: false },
    { what: 'joining with a join sent (the join job carries on)', over: { status: RoomDispatchStatus.Joining, joinSentAt: T0 }, expected: false },
    { what: 'a failed join', over: { status: RoomDispatchStatus.Failed, joinSentAt: T0 }, expected: false },
  ])('$what: $expected', ({ over, expected }) => {
    expect(mayBeInMeeting(dispatch(over))).toBe(expected);
  });
});

describe('RoomDispatchRunner.join: a room Zoom may have joined leaves when its dispatch is cancelled', () => {
  it('a re-run after the worker died between Zoom’s 202 and joined_at, on a dispatch cancelled meanwhile: the room leaves now, no second join', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Cancelled, joinSentAt: T0, completedAt: T0 }));
    await expect(t.runner.join(t.job)).resolves.toEqual({ status: RoomDispatchStatus.Cancelled, skipped: true });
    expect(t.leaveNow).toHaveBeenCalledWith(ID, 1);
    expect(t.sendEvent).not.toHaveBeenCalled();

    // No needless leave: not for a dispatch whose join never went to Zoom, nor for a room that left.
    for (const over of [{}, { joinSentAt: T0, joinedAt: T0, leftAt: T0 }]) {
      const other = setup(dispatch({ status: RoomDispatchStatus.Cancelled, completedAt: T0, ...over }));
      await other.runner.join(other.job);
      expect(other.leaveNow).not.toHaveBeenCalled();
      expect(other.sendEvent).not.toHaveBeenCalled();
    }
  });

  it('writes join_sent_at before the request reaches Zoom, and joins', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Queued }));
    t.sendEvent.mockImplementation(async () => {
      expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Joining, joinSentAt: expect.any(Date), joinedAt: null });
      return answer(202);
    });
    await expect(t.runner.join(t.job)).resolves.toEqual({ status: RoomDispatchStatus.Joined });
    expect(t.calls('zoomroom.meeting_join')).toHaveLength(1);
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Joined, joinSentAt: expect.any(Date), joinedAt: expect.any(Date), attempts: 1 });
  });

  it('cancelled while the join waited for its rate-limit slot: no join is sent, and no leave', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Queued }));
    t.reserve.mockImplementation(async () => {
      t.rows.row.status = RoomDispatchStatus.Cancelled; // DELETE meanwhile
      return { reserved: true, waitMs: 0 };
    });
    await expect(t.runner.join(t.job)).resolves.toEqual({ status: RoomDispatchStatus.Cancelled, skipped: true });
    expect(t.sendEvent).not.toHaveBeenCalled();
    expect(t.leaveNow).not.toHaveBeenCalled();
    expect(t.rows.row).toMatchObject({ joinSentAt: null, attempts: 0 });
  });

  it('429: Zoom did not join the room, join_sent_at is cleared again (a cancel during the wait sends no leave)', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Queued }));
    t.sendEvent.mockImplementation(async () => {
      expect(t.rows.row.joinSentAt).toEqual(expect.any(Date));
      return answer(429, { code: 429, message: 'Too many requests' }, { 'retry-after': '2' });
    });
    await expect(t.runner.join(t.job)).rejects.toBeInstanceOf(DelayedError);
    expect(t.moveToDelayed).toHaveBeenCalled();
    expect(t.sendEvent).toHaveBeenCalledTimes(1);
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Joining, joinSentAt: null, throttledCount: 1 });
  });

  it('a 4xx refusal clears join_sent_at again: the dispatch fails, and was never in the meeting', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Queued }));
    t.sendEvent.mockImplementation(async () => {
      expect(t.rows.row.joinSentAt).toEqual(expect.any(Date));
      return answer(400, { code: 3000, message: 'Zoom Room is offline.' });
    });
    await expect(t.runner.join(t.job)).rejects.toBeInstanceOf(UnrecoverableError);
    expect(t.sendEvent).toHaveBeenCalledTimes(1);
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Failed, joinSentAt: null, zoomCode: '3000' });
  });

  it('a 401 whose new token cannot be had clears join_sent_at again: Zoom did not act, so a later "already in a meeting" is not taken as ours', async () => {
    let fetches = 0;
    const t = setup(dispatch({ status: RoomDispatchStatus.Queued }), {
      getAccountToken: async () => {
        if (++fetches > 1) throw new ZoomTransportError('S2S token', 'connect ECONNREFUSED');
        return 'token';
      },
      invalidate: async () => undefined,
    });
    t.sendEvent.mockImplementationOnce(async () => answer(401, { code: 124, message: 'Invalid access token.' }));
    await expect(t.runner.join(t.job)).rejects.toThrow();
    expect(t.sendEvent).toHaveBeenCalledTimes(1);
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Joining, joinSentAt: null });
  });

  it('a timeout keeps join_sent_at (Zoom may have joined the room); cancelled before the retry runs, the retry has the room leave', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Queued }));
    t.sendEvent.mockRejectedValueOnce(new ZoomTransportError('PATCH /rooms/room-1/events', 'timeout after 10000 ms'));
    await expect(t.runner.join(t.job)).rejects.toThrow('timeout');
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Joining, joinSentAt: expect.any(Date) });
    t.rows.row.status = RoomDispatchStatus.Cancelled; // DELETE while the job was running (its lock kept it)
    await t.runner.join(t.job);
    expect(t.leaveNow).toHaveBeenCalledWith(ID, 1);
    expect(t.calls('zoomroom.meeting_join')).toHaveLength(1);
  });

  it('an earlier request may have joined; this one is refused ("offline") after a cancel: the refusal says the room is not in the meeting, no leave', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Joining, joinSentAt: T0 }));
    t.sendEvent.mockImplementation(async () => {
      t.rows.row.status = RoomDispatchStatus.Cancelled;
      return answer(400, { code: 3000, message: 'Zoom Room is offline.' });
    });
    await expect(t.runner.join(t.job)).rejects.toBeInstanceOf(UnrecoverableError);
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Cancelled, joinSentAt: null });
    expect(mayBeInMeeting(t.rows.row)).toBe(false);
    expect(t.leaveNow).not.toHaveBeenCalled();
  });

  it('an earlier request may have joined; this one gets "already in a meeting" after a cancel: taken as joined, the room leaves now', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Joining, joinSentAt: T0 }));
    t.sendEvent.mockImplementation(async () => {
      t.rows.row.status = RoomDispatchStatus.Cancelled;
      return answer(400, { code: 3000, message: 'Zoom Room is already in a meeting.' });
    });
    await expect(t.runner.join(t.job)).resolves.toEqual({ status: RoomDispatchStatus.Cancelled });
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Cancelled, joinSentAt: T0, joinedAt: expect.any(Date) });
    expect(t.leaveNow).toHaveBeenCalledWith(ID, 1);
  });

  it('attempts used up on a dispatch cancelled meanwhile, with a join sent: the room leaves', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Cancelled, joinSentAt: T0 }));
    await t.runner.finalFailure(ID, 'join', new Error('Zoom answered HTTP 503'));
    expect(t.leaveNow).toHaveBeenCalledWith(ID, 1);
    expect(t.rows.row.status).toBe(RoomDispatchStatus.Cancelled);
  });
});

describe('RoomDispatchRunner.join: "already in a meeting" after a join whose answer was lost', () => {
  const inMeeting = () => answer(400, { code: 3000, message: 'Zoom Room is already in a meeting.' });

  it.each([
    { what: 'already in a meeting', status: 400, code: '3000', message: 'Zoom Room is already in a meeting.', expected: true },
    { what: 'offline (the same code)', status: 400, code: '3000', message: 'Zoom Room is offline.', expected: false },
    { what: 'wrong passcode', status: 400, code: '3004', message: 'Wrong passcode.', expected: false },
  ])('isAlreadyInMeeting: $what → $expected', ({ status, code, message, expected }) => {
    expect(isAlreadyInMeeting({ zoomStatus: status, zoomCode: code, zoomMessage: message })).toBe(expected);
  });

  it('a re-run after the worker died between Zoom’s 202 and joined_at (join_sent_at set): joined, Zoom’s answer kept, the leave scheduled, joined announced', async () => {
    const SESSION = '0b8f5d7e-2c4a-4e61-9d0b-7a3f1c2e5d98';
    const t = setup(dispatch({ status: RoomDispatchStatus.Joining, joinSentAt: T0, leaveAfterSeconds: 30, sessionId: SESSION }));
    t.sendEvent.mockResolvedValue(inMeeting());
    const before = Date.now();
    await expect(t.runner.join(t.job)).resolves.toEqual({ status: RoomDispatchStatus.Joined });
    expect(t.calls('zoomroom.meeting_join')).toHaveLength(1);
    expect(t.rows.row).toMatchObject({
      status: RoomDispatchStatus.Joined,
      joinSentAt: T0,
      joinedAt: expect.any(Date),
      leaveAt: expect.any(Date),
      zoomStatus: 400,
      zoomCode: '3000',
      zoomMessage: 'Zoom Room is already in a meeting.',
      error: null,
      failedStep: null,
    });
    expect(t.rows.row.joinedAt!.getTime()).toBeGreaterThanOrEqual(before);
    expect(t.rows.row.leaveAt!.getTime() - t.rows.row.joinedAt!.getTime()).toBe(30_000);
    expect(t.enqueue).toHaveBeenCalledWith(JobName.RoomLeave, { dispatchId: ID, round: 1 }, { delay: expect.any(Number) });
    expect(t.recordAppEvent).toHaveBeenCalledWith(expect.objectContaining({ type: AppEventType.ZoomRoomJoined, sessionId: SESSION }), expect.anything());
    expect(t.recordEvent).toHaveBeenCalledWith(SESSION, expect.objectContaining({ eventType: 'zoom_room.joined', payload: expect.objectContaining({ dispatch_id: ID, inferred: true }) }));
    expect(t.leaveNow).not.toHaveBeenCalled();
  });

  it('the first join request of the round gets "already in a meeting": the room is busy elsewhere, the dispatch fails', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Queued, leaveAfterSeconds: 30 }));
    t.sendEvent.mockResolvedValue(inMeeting());
    await expect(t.runner.join(t.job)).rejects.toBeInstanceOf(UnrecoverableError);
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Failed, failedStep: 'join', joinSentAt: null, joinedAt: null, zoomStatus: 400, zoomCode: '3000' });
    expect(t.enqueue).not.toHaveBeenCalled();
    expect(t.recordAppEvent).toHaveBeenCalledWith(expect.objectContaining({ type: AppEventType.ZoomRoomFailed }), expect.anything());
  });

  it('a 401 then "already in a meeting" in one run: the 401 joined nothing, the dispatch fails', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Queued }));
    t.sendEvent.mockResolvedValueOnce(answer(401, { code: 124, message: 'Invalid access token.' })).mockResolvedValue(inMeeting());
    await expect(t.runner.join(t.job)).rejects.toBeInstanceOf(UnrecoverableError);
    expect(t.sendEvent).toHaveBeenCalledTimes(2);
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Failed, joinSentAt: null });
  });

  it.each([
    { what: '"offline" (the same code 3000)', status: 400, code: 3000, message: 'Zoom Room is offline.' },
    { what: 'the meeting does not exist (any more)', status: 404, code: 3001, message: 'Meeting does not exist: 81234567890.' },
    { what: 'an unknown room', status: 404, code: 1012, message: 'Room does not exist: room-1.' },
  ])('a join sent earlier (its answer lost), then $what: the dispatch fails and join_sent_at goes (the room is not in our meeting; DELETE sends no leave)', async ({ status, code, message }) => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Joining, joinSentAt: T0 }));
    t.sendEvent.mockResolvedValue(answer(status, { code, message }));
    await expect(t.runner.join(t.job)).rejects.toBeInstanceOf(UnrecoverableError);
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Failed, failedStep: 'join', joinSentAt: null, joinedAt: null });
    expect(failedJoinMayBeInMeeting(t.rows.row)).toBe(false);
  });

  it('a timeout (join_sent_at kept), then "offline" on the BullMQ retry: join_sent_at goes, so a later "already in a meeting" is never taken as ours', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Queued, leaveAfterSeconds: 30 }));
    t.sendEvent.mockRejectedValueOnce(new ZoomTransportError('PATCH /rooms/room-1/events', 'timeout after 10000 ms')).mockResolvedValueOnce(answer(400, { code: 3000, message: 'Zoom Room is offline.' }));
    await expect(t.runner.join(t.job)).rejects.toThrow('timeout');
    expect(t.rows.row.joinSentAt).toEqual(expect.any(Date));
    await expect(t.runner.join(t.job)).rejects.toBeInstanceOf(UnrecoverableError);
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Failed, joinSentAt: null });
  });

  it('a timeout, then the retry gets "already in a meeting": joined', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Queued, leaveAfterSeconds: 5 }));
    t.sendEvent.mockRejectedValueOnce(new ZoomTransportError('PATCH /rooms/room-1/events', 'timeout after 10000 ms')).mockResolvedValue(inMeeting());
    await expect(t.runner.join(t.job)).rejects.toThrow('timeout');
    await expect(t.runner.join(t.job)).resolves.toEqual({ status: RoomDispatchStatus.Joined });
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Joined, joinedAt: expect.any(Date), zoomCode: '3000' });
    expect(t.enqueue).toHaveBeenCalledWith(JobName.RoomLeave, { dispatchId: ID, round: 1 }, { delay: expect.any(Number) });
  });
});

describe('failedJoinMayBeInMeeting: which failed dispatch DELETE sends a leave', () => {
  it.each([
    { what: 'a failed join with a join sent and no answer recorded', over: { status: RoomDispatchStatus.Failed, failedStep: 'join' as const, joinSentAt: T0 }, expected: true },
    { what: 'a failed join refused on its first request', over: { status: RoomDispatchStatus.Failed, failedStep: 'join' as const }, expected: false },
    { what: 'a failed leave', over: { status: RoomDispatchStatus.Failed, failedStep: 'leave' as const, joinSentAt: T0, joinedAt: T0 }, expected: false },
    { what: 'a failed join whose room left', over: { status: RoomDispatchStatus.Failed, failedStep: 'join' as const, joinSentAt: T0, leftAt: T0 }, expected: false },
    { what: 'joining with a join sent', over: { status: RoomDispatchStatus.Joining, joinSentAt: T0 }, expected: false },
  ])('$what: $expected', ({ over, expected }) => {
    expect(failedJoinMayBeInMeeting(dispatch(over))).toBe(expected);
  });
});

describe('RoomDispatchRunner.leave for a cancelled dispatch whose join had no recorded answer', () => {
  const crashed = () => dispatch({ status: RoomDispatchStatus.Cancelled, joinSentAt: T0, completedAt: T0 });

  it('sends the leave; Zoom’s 202 ends it cancelled with left_at', async () => {
    const t = setup(crashed());
    await expect(t.runner.leave(t.job)).resolves.toEqual({ status: RoomDispatchStatus.Cancelled });
    expect(t.calls('zoomroom.meeting_leave')).toHaveLength(1);
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Cancelled, leftAt: expect.any(Date) });

    // A cancelled dispatch whose join never went to Zoom sends none.
    const never = setup(dispatch({ status: RoomDispatchStatus.Cancelled }));
    await expect(never.runner.leave(never.job)).resolves.toEqual({ status: RoomDispatchStatus.Cancelled, skipped: true });
    expect(never.sendEvent).not.toHaveBeenCalled();
  });

  it('its attempts used up (an outage): the dispatch becomes a failed leave, which POST retry can send again, not a finished cancel nothing can take out', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Cancelled, joinSentAt: T0, joinedAt: T0, completedAt: T0 }));
    await t.runner.finalFailure(ID, 'leave', new Error('Zoom answered HTTP 503'));
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Failed, failedStep: 'leave', leftAt: null });
    expect(t.rows.row.error).toContain('Zoom answered HTTP 503');
    // One that left, or never joined, is left alone.
    const left = setup(dispatch({ status: RoomDispatchStatus.Cancelled, joinSentAt: T0, joinedAt: T0, leftAt: T0 }));
    await left.runner.finalFailure(ID, 'leave', new Error('x'));
    expect(left.rows.row.status).toBe(RoomDispatchStatus.Cancelled);
    const never = setup(dispatch({ status: RoomDispatchStatus.Cancelled }));
    await never.runner.finalFailure(ID, 'leave', new Error('x'));
    expect(never.rows.row.status).toBe(RoomDispatchStatus.Cancelled);
  });

  it('Zoom refuses it (the room is not there, e.g. offline): cancelled with Zoom’s answer, the job ends without retries', async () => {
    const t = setup(crashed());
    t.sendEvent.mockResolvedValue(answer(400, { code: 3000, message: 'Zoom Room is offline.' }));
    await expect(t.runner.leave(t.job)).resolves.toEqual({ status: RoomDispatchStatus.Cancelled });
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Cancelled, leftAt: null, zoomStatus: 400, zoomCode: '3000', zoomMessage: 'Zoom Room is offline.' });
  });

  it('Zoom refuses the leave of a room it had joined: stays cancelled, the job fails for good with Zoom’s reason', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Cancelled, joinSentAt: T0, joinedAt: T0 }));
    t.sendEvent.mockResolvedValue(answer(400, { code: 3000, message: 'Zoom Room is offline.' }));
    await expect(t.runner.leave(t.job)).rejects.toBeInstanceOf(UnrecoverableError);
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Cancelled, zoomCode: '3000' });
  });
});

/**
 * POST …/retry of a failed join starts the new round with join_sent_at cleared: the failed
 * round's join (maybe hours ago) says nothing about where the room is now, so "already in a
 * meeting" to the retried round's first request is the room busy elsewhere, not our join.
 */
describe('POST /zoom-rooms/dispatches/:id/retry, then the retried round\'s join', () => {
  function retrying(over: Partial<RoomDispatchEntity>) {
    const t = setup(dispatch({ status: RoomDispatchStatus.Failed, failedStep: 'join', round: 1, leaveAfterSeconds: 30, ...over }));
    const enqueue = jest.fn(async () => undefined);
    const service = new RoomDispatchesService(
      t.rows as never,
      {} as never,
      {} as never,
      {} as never,
      {} as never,
      {} as never,
      { enqueue } as never,
      { get: () => ({ prefix: 'test', defaultLeaveAfterSec: 30 }) } as never,
      {} as never,
      { counter: () => ({ inc: () => undefined }), gauge: () => undefined } as never,
    );
    const round2 = { ...t.job, data: { dispatchId: ID, round: 2 } } as Job<RoomJobPayload>;
    return { ...t, service, retryEnqueue: enqueue, round2 };
  }

  it('a join that failed after its request went to Zoom (join_sent_at): the retry clears it, and "already in a meeting" fails round 2 — no joined, no delayed leave', async () => {
    const t = retrying({ joinSentAt: T0 });
    await expect(t.service.retry(ID)).resolves.toMatchObject({ status: RoomDispatchStatus.Queued, round: 2 });
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Queued, round: 2, joinSentAt: null });
    expect(t.retryEnqueue).toHaveBeenCalledWith(JobName.RoomJoin, { dispatchId: ID, round: 2 });

    // Later the room is in somebody else's meeting: round 2's first request is answered 400 3000.
    t.sendEvent.mockResolvedValue(answer(400, { code: 3000, message: 'Zoom Room is already in a meeting.' }));
    await expect(t.runner.join(t.round2)).rejects.toBeInstanceOf(UnrecoverableError);
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Failed, failedStep: 'join', round: 2, joinSentAt: null, joinedAt: null, zoomCode: '3000' });
    expect(t.enqueue).not.toHaveBeenCalled();
    // Never taken as in our meeting: DELETE will not send it a leave.
    expect(failedJoinMayBeInMeeting(t.rows.row)).toBe(false);
  });

  it('within the retried round, a timeout then "already in a meeting" is still that round\'s own join: joined', async () => {
    const t = retrying({ joinSentAt: T0 });
    await t.service.retry(ID);
    t.sendEvent.mockRejectedValueOnce(new ZoomTransportError('PATCH /rooms/room-1/events', 'timeout after 10000 ms')).mockResolvedValue(answer(400, { code: 3000, message: 'Zoom Room is already in a meeting.' }));
    await expect(t.runner.join(t.round2)).rejects.toThrow('timeout');
    await expect(t.runner.join(t.round2)).resolves.toEqual({ status: RoomDispatchStatus.Joined });
    expect(t.enqueue).toHaveBeenCalledWith(JobName.RoomLeave, { dispatchId: ID, round: 2 }, { delay: expect.any(Number) });
  });

  it('a failed leave keeps its join marks on retry (the room joined; only the leave runs again)', async () => {
    const t = retrying({ failedStep: 'leave', joinSentAt: T0, joinedAt: T0 });
    await expect(t.service.retry(ID)).resolves.toMatchObject({ status: RoomDispatchStatus.Leaving, round: 2 });
    expect(t.rows.row).toMatchObject({ joinSentAt: T0, joinedAt: T0 });
    expect(t.retryEnqueue).toHaveBeenCalledWith(JobName.RoomLeave, { dispatchId: ID, round: 2 });
  });
});

/** The session's meeting ended (RoomMeetingEndService) while a room job of the dispatch was on its way. */
describe('RoomDispatchRunner and a meeting end that overtook its job', () => {
  it('a leave job already sending when the meeting end marked the dispatch left: nothing announced a second time', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Joined, joinSentAt: T0, joinedAt: T0, sessionId: '0b8f5d7e-2c4a-4e61-9d0b-7a3f1c2e5d98' }));
    t.sendEvent.mockImplementation(async () => {
      Object.assign(t.rows.row, { status: RoomDispatchStatus.Left, leftAt: T0, endReason: 'meeting_ended' });
      return answer(202);
    });
    await expect(t.runner.leave(t.job)).resolves.toMatchObject({ skipped: true });
    expect(t.rows.row).toMatchObject({ status: RoomDispatchStatus.Left, leftAt: T0, endReason: 'meeting_ended' });
    expect(t.recordAppEvent).not.toHaveBeenCalled();
    expect(t.recordEvent).not.toHaveBeenCalled();
  });

  it('the meeting end cancelled it (left_at set) while Zoom was joining the room: this join put the room in, so left_at goes and it leaves now', async () => {
    const t = setup(dispatch({ status: RoomDispatchStatus.Queued }));
    t.sendEvent.mockImplementation(async () => {
      Object.assign(t.rows.row, { status: RoomDispatchStatus.Cancelled, leftAt: T0, endReason: 'meeting_ended' });
      return answer(202);
    });
    await expect(t.runner.join(t.job)).resolves.toEqual({ status: RoomDispatchStatus.Cancelled });
    expect(t.rows.row).toMatchObject({ joinedAt: expect.any(Date), leftAt: null });
    expect(mayBeInMeeting(t.rows.row)).toBe(true);
    expect(t.leaveNow).toHaveBeenCalledWith(ID, 1);
  });
});
