import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { jobIdFor } from '../../jobs/job-ids';
import { JobName } from '../../jobs/job-names';
import { RoomDispatchEntity, RoomDispatchStatus } from './entities/room-dispatch.entity';
import { RoomDispatchesService } from './room-dispatches.service';
import { ZoomRoomsErrorCode } from '../../common/errors/error-codes';

const ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const T0 = new Date('2026-12-01T10:00:00.000Z');

beforeAll(() => Logger.overrideLogger(false));

/** The service with only what DELETE uses: the repository and the job producer. */
function serviceWith(repo: object, producer: object): RoomDispatchesService {
  return new RoomDispatchesService(
    repo as never,
    {} as never,
    {} as never,
    {} as never,
    {} as never,
    {} as never,
    producer as never,
    { get: () => ({ prefix: 'test' }) } as never,
    {} as never,
    { counter: () => ({ inc: () => undefined }), gauge: () => undefined } as never,
  );
}

/** A repository over one row: reads copy it, a conditional update applies while status and round still match. */
function repoOf(row: RoomDispatchEntity) {
  return {
    findOne: jest.fn(async () => ({ ...row })),
    update: jest.fn(async (where: Partial<RoomDispatchEntity>, fields: Partial<RoomDispatchEntity>) => {
      if (where.status !== row.status || where.round !== row.round) return { affected: 0 };
      Object.assign(row, fields);
      return { affected: 1 };
    }),
  };
}

/**
 * DELETE of a dispatch still joining: the join job is removed unless a worker runs it,
 * and the room is sent a leave when an earlier run's join went to Zoom (join_sent_at)
 * and no join job is left to see the cancel.
 */
describe('RoomDispatchesService.cancel of a joining dispatch', () => {
  /** `joinJob`: the round's join job as BullMQ has it — none, one it removes, or one a worker holds (locked). */
  function setup(over: Partial<RoomDispatchEntity>, joinJob: 'none' | 'removable' | 'locked') {
    const row = { id: ID, round: 1, status: RoomDispatchStatus.Joining, joinSentAt: null, joinedAt: null, leftAt: null, owner: null, ...over } as RoomDispatchEntity;
    const repo = repoOf(row);
    const remove = jest.fn(async () => {
      if (joinJob === 'locked') throw new Error('Job could not be removed because it is locked by another worker');
    });
    const getJob = jest.fn(async (id: string) => (joinJob !== 'none' && id === jobIdFor(JobName.RoomJoin, { dispatchId: ID, round: 1 }) ? { remove } : undefined));
    const producer = { queueFor: () => ({ getJob }) };
    const service = serviceWith(repo, producer);
    const leaveNow = jest.spyOn(service, 'leaveNow').mockResolvedValue(undefined);
    return { service, row, remove, leaveNow };
  }

  it('a join that went to Zoom and waits for its retry (timeout, 5xx, a worker that died): the job goes and the room leaves now; never a needless leave', async () => {
    const t = setup({ joinSentAt: T0 }, 'removable');
    await expect(t.service.cancel(ID)).resolves.toMatchObject({ status: 'cancelled' });
    expect(t.remove).toHaveBeenCalled();
    expect(t.leaveNow).toHaveBeenCalledWith(ID, 1);
    // Its job already gone (it finished, or retention took it): the same.
    const gone = setup({ joinSentAt: T0 }, 'none');
    await gone.service.cancel(ID);
    expect(gone.leaveNow).toHaveBeenCalledWith(ID, 1);

    // A join a worker is running: no leave from here (it could reach Zoom before that join
    // and be undone by it); the running job sees the cancel when Zoom answers.
    const running = setup({ joinSentAt: T0 }, 'locked');
    await expect(running.service.cancel(ID)).resolves.toMatchObject({ status: 'cancelled' });
    expect(running.leaveNow).not.toHaveBeenCalled();
    // A join that never went to Zoom (queued, or waiting for its rate-limit slot): no leave.
    for (const status of [RoomDispatchStatus.Queued, RoomDispatchStatus.Joining]) {
      const never = setup({ status }, 'removable');
      await expect(never.service.cancel(ID)).resolves.toMatchObject({ status: 'cancelled' });
      expect(never.remove).toHaveBeenCalled();
      expect(never.leaveNow).not.toHaveBeenCalled();
    }
  });
});

/**
 * DELETE of a failed dispatch: refused, except a failed join whose room Zoom may have
 * (a join went to Zoom with no answer recorded: join_sent_at): it is cancelled and its
 * room sent a leave.
 */
describe('RoomDispatchesService.cancel of a failed dispatch', () => {
  function setup(over: Partial<RoomDispatchEntity>) {
    const row = { id: ID, round: 2, status: RoomDispatchStatus.Failed, failedStep: 'join', joinSentAt: null, joinedAt: null, leftAt: null, owner: null, ...over } as RoomDispatchEntity;
    const repo = repoOf(row);
    const service = serviceWith(repo, {});
    const leaveNow = jest.spyOn(service, 'leaveNow').mockResolvedValue(undefined);
    return { service, row, leaveNow };
  }

  it('a failed join whose join went to Zoom (join_sent_at): cancelled, and its room leaves now in the failed round', async () => {
    const t = setup({ joinSentAt: T0 });
    await expect(t.service.cancel(ID)).resolves.toMatchObject({ status: 'cancelled' });
    expect(t.leaveNow).toHaveBeenCalledWith(ID, 2);
    expect(t.row).toMatchObject({ status: RoomDispatchStatus.Cancelled, completedAt: expect.any(Date) });
  });

  it.each([
    { what: 'a failed join refused on its first request (never in the meeting)', over: {} },
    { what: 'a failed leave', over: { failedStep: 'leave' as const, joinSentAt: T0, joinedAt: T0 } },
    { what: 'a failed join whose room has left', over: { joinSentAt: T0, leftAt: T0 } },
  ])('$what: refused with room_dispatch_finished, no leave', async ({ over }) => {
    const t = setup(over);
    await expect(t.service.cancel(ID)).rejects.toMatchObject({ code: ZoomRoomsErrorCode.RoomDispatchFinished });
    expect(t.leaveNow).not.toHaveBeenCalled();
    expect(t.row.status).toBe(RoomDispatchStatus.Failed);
  });
});
