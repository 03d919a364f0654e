import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { FindOperator } from 'typeorm';
import { jobIdFor } from '../../jobs/job-ids';
import { JobName } from '../../jobs/job-names';
import { AppEventType } from '../app-events';
import { SessionNotFoundError } from '../sessions';
import { failedJoinMayBeInMeeting, mayBeInMeeting, RoomDispatchEntity, RoomDispatchStatus } from './entities/room-dispatch.entity';
import { RoomMeetingEndService } from './room-meeting-end.service';

const SESSION = '0b8f5d7e-2c4a-4e61-9d0b-7a3f1c2e5d98';
const MEETING = '81234567890';
const T0 = new Date('2026-12-01T10:00:00.000Z');
let seq = 0;

const dispatch = (over: Partial<RoomDispatchEntity>): RoomDispatchEntity =>
  ({
    id: `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`,
    roomId: `room-${seq}`,
    meetingNumber: MEETING,
    sessionId: SESSION,
    status: RoomDispatchStatus.Joined,
    round: 1,
    failedStep: null,
    joinSentAt: T0,
    joinedAt: T0,
    leaveAt: new Date(T0.getTime() + 3_600_000),
    leftAt: null,
    endReason: null,
    completedAt: null,
    error: null,
    zoomStatus: 202,
    zoomCode: null,
    zoomMessage: null,
    createdAt: T0,
    ...over,
  }) as RoomDispatchEntity;

/** room_dispatches rows in memory: find by where, conditional updates. */
class FakeRows {
  constructor(public rows: RoomDispatchEntity[]) {}

  private matches(r: RoomDispatchEntity, where: Record<string, unknown>): boolean {
    const row = r as unknown as Record<string, unknown>;
    return Object.entries(where).every(([k, v]) => {
      if (v instanceof FindOperator) {
        if (v.type === 'isNull') return row[k] === null;
        if (v.type === 'in') return (v.value as unknown[]).includes(row[k]);
        throw new Error(`operator ${v.type} not faked`);
      }
      return row[k] === v;
    });
  }

  find = jest.fn(async ({ where }: { where: Record<string, unknown> }) => this.rows.filter((r) => this.matches(r, where)).map((r) => ({ ...r })));
  update = jest.fn(async (where: Record<string, unknown>, fields: Record<string, unknown>) => {
    const hit = this.rows.filter((r) => this.matches(r, where));
    for (const r of hit) Object.assign(r, fields);
    return { affected: hit.length };
  });
  manager = { transaction: async <T>(fn: (em: unknown) => Promise<T>) => fn({ getRepository: () => this }) };
}

/** `jobs`: the state of each pending job by id (absent: no job). */
function setup(rows: RoomDispatchEntity[], opts: { meetingId?: string | null; jobs?: Record<string, string>; sessionGone?: boolean } = {}) {
  const fake = new FakeRows(rows);
  const removed: string[] = [];
  const getJob = jest.fn(async (id: string) => {
    const state = opts.jobs?.[id];
    if (!state) return undefined;
    return {
      getState: async () => state,
      remove: async () => {
        if (state === 'active') throw new Error('Job could not be removed because it is locked by another worker');
        removed.push(id);
      },
    };
  });
  const sessions = {
    get: jest.fn(async (id: string) => {
      if (opts.sessionGone) throw new SessionNotFoundError(id);
      return { id, meetingId: opts.meetingId === undefined ? MEETING : opts.meetingId };
    }),
  };
  const recordEvent = jest.fn(async () => undefined);
  const record = jest.fn(async () => undefined);
  const inc = jest.fn();
  const service = new RoomMeetingEndService(fake as never, sessions as never, { recordEvent } as never, { record } as never, { queueFor: () => ({ getJob }) } as never, { outcomes: { inc } } as never);
  return { service, fake, removed, recordEvent, record, inc };
}

const leaveJob = (d: RoomDispatchEntity) => jobIdFor(JobName.RoomLeave, { dispatchId: d.id, round: d.round }) as string;
const joinJob = (d: RoomDispatchEntity) => jobIdFor(JobName.RoomJoin, { dispatchId: d.id, round: d.round }) as string;

beforeAll(() => Logger.overrideLogger(false));

describe('RoomMeetingEndService: the session\'s meeting ended, so its rooms are out of it', () => {
  it('a joined room: left (meeting_ended), its delayed leave removed — it can no longer take the room out of its next meeting', async () => {
    const d = dispatch({});
    const t = setup([d], { jobs: { [leaveJob(d)]: 'delayed' } });
    await expect(t.service.meetingEnded(SESSION)).resolves.toEqual({ ended: 1 });
    expect(d).toMatchObject({ status: RoomDispatchStatus.Left, leftAt: expect.any(Date), completedAt: expect.any(Date), endReason: 'meeting_ended' });
    expect(t.removed).toEqual([leaveJob(d)]);
    expect(t.record).toHaveBeenCalledWith(
      { type: AppEventType.ZoomRoomLeft, sessionId: SESSION, data: { dispatch_id: d.id, room_id: d.roomId, meeting_number: MEETING, reason: 'meeting_ended' } },
      expect.anything(),
    );
    expect(t.recordEvent).toHaveBeenCalledWith(SESSION, expect.objectContaining({ eventType: 'zoom_room.left', payload: expect.objectContaining({ dispatch_id: d.id, reason: 'meeting_ended' }) }));
    expect(t.inc).toHaveBeenCalledWith({ outcome: 'left' });
  });

  it('a leave on its way (leaving; its job running, so locked) and a failed leave: left; the running job is left alone, a finished one stays for Bull Board', async () => {
    const leaving = dispatch({ status: RoomDispatchStatus.Leaving });
    const failedLeave = dispatch({ status: RoomDispatchStatus.Failed, failedStep: 'leave', error: 'gave up after 5 call(s): HTTP 503', zoomStatus: 503 });
    const t = setup([leaving, failedLeave], { jobs: { [leaveJob(leaving)]: 'active', [leaveJob(failedLeave)]: 'failed' } });
    await expect(t.service.meetingEnded(SESSION)).resolves.toEqual({ ended: 2 });
    expect(leaving).toMatchObject({ status: RoomDispatchStatus.Left, endReason: 'meeting_ended' });
    expect(failedLeave).toMatchObject({ status: RoomDispatchStatus.Left, endReason: 'meeting_ended', failedStep: null, error: null, zoomStatus: null });
    expect(t.removed).toEqual([]);
  });

  it('a join still to come (queued, or waiting for its retry): cancelled, its job removed; with a join sent, left_at too, so nothing sends that room a leave', async () => {
    const queued = dispatch({ status: RoomDispatchStatus.Queued, joinSentAt: null, joinedAt: null, leaveAt: null });
    const joining = dispatch({ status: RoomDispatchStatus.Joining, joinedAt: null, leaveAt: null });
    const t = setup([queued, joining], { jobs: { [joinJob(queued)]: 'waiting', [joinJob(joining)]: 'delayed' } });
    await expect(t.service.meetingEnded(SESSION)).resolves.toEqual({ ended: 2 });
    expect(queued).toMatchObject({ status: RoomDispatchStatus.Cancelled, leftAt: null, endReason: 'meeting_ended', completedAt: expect.any(Date) });
    expect(joining).toMatchObject({ status: RoomDispatchStatus.Cancelled, leftAt: expect.any(Date), endReason: 'meeting_ended' });
    expect(mayBeInMeeting(joining)).toBe(false);
    expect(t.removed.sort()).toEqual([joinJob(queued), joinJob(joining)].sort());
    expect(t.inc).toHaveBeenCalledWith({ outcome: 'cancelled' });
    expect(t.record).not.toHaveBeenCalled();
  });

  it('a failed join or a cancelled dispatch whose room may have been in the meeting: left_at, so DELETE or its pending leave sends none', async () => {
    const failedJoin = dispatch({ status: RoomDispatchStatus.Failed, failedStep: 'join', joinedAt: null });
    const cancelled = dispatch({ status: RoomDispatchStatus.Cancelled, completedAt: T0 });
    const t = setup([failedJoin, cancelled], { jobs: { [leaveJob(cancelled)]: 'waiting' } });
    expect(failedJoinMayBeInMeeting(failedJoin)).toBe(true);
    await expect(t.service.meetingEnded(SESSION)).resolves.toEqual({ ended: 2 });
    expect(failedJoin).toMatchObject({ status: RoomDispatchStatus.Failed, leftAt: expect.any(Date), endReason: 'meeting_ended' });
    expect(failedJoinMayBeInMeeting(failedJoin)).toBe(false);
    expect(cancelled).toMatchObject({ status: RoomDispatchStatus.Cancelled, leftAt: expect.any(Date), endReason: 'meeting_ended' });
    expect(mayBeInMeeting(cancelled)).toBe(false);
    expect(t.removed).toEqual([leaveJob(cancelled)]);
  });

  it('leaves alone: a dispatch into another meeting number, one already over, a join Zoom refused; and a second run finds nothing to do', async () => {
    const otherMeeting = dispatch({ meetingNumber: '89999999999' });
    const left = dispatch({ status: RoomDispatchStatus.Left, leftAt: T0, completedAt: T0 });
    const refused = dispatch({ status: RoomDispatchStatus.Failed, failedStep: 'join', joinSentAt: null, joinedAt: null });
    const ours = dispatch({});
    const t = setup([otherMeeting, left, refused, ours]);
    await expect(t.service.meetingEnded(SESSION)).resolves.toEqual({ ended: 1 });
    expect(otherMeeting.status).toBe(RoomDispatchStatus.Joined);
    expect(refused).toMatchObject({ status: RoomDispatchStatus.Failed, leftAt: null, endReason: null });
    expect(ours.status).toBe(RoomDispatchStatus.Left);
    await expect(t.service.meetingEnded(SESSION)).resolves.toEqual({ ended: 0 });
    expect(t.record).toHaveBeenCalledTimes(1);
  });

  it('a session without a meeting id: every dispatch of it; a deleted session: nothing', async () => {
    const a = dispatch({ meetingNumber: '81111111111' });
    const t = setup([a], { meetingId: null });
    await expect(t.service.meetingEnded(SESSION)).resolves.toEqual({ ended: 1 });
    const gone = setup([dispatch({})], { sessionGone: true });
    await expect(gone.service.meetingEnded(SESSION)).resolves.toEqual({ ended: 0, skipped: 'session does not exist' });
  });

  it('a dispatch moved on meanwhile (its own job, a DELETE) is not overwritten', async () => {
    const d = dispatch({});
    const t = setup([d]);
    t.fake.update.mockImplementationOnce(async () => ({ affected: 0 }));
    await expect(t.service.meetingEnded(SESSION)).resolves.toEqual({ ended: 0 });
    expect(t.record).not.toHaveBeenCalled();
    expect(t.recordEvent).not.toHaveBeenCalled();
  });
});
