import { jobIdFor } from '../../jobs/job-ids';
import { JobName } from '../../jobs/job-names';
import type { JobProducer } from '../../jobs/job-producer.service';
import { ACTIVE_DISPATCH_STATUSES, FINISHED_DISPATCH_STATUSES, RoomDispatchStatus } from './entities/room-dispatch.entity';
import type { RoomDispatchesRepository } from './repositories/room-dispatches.repository';
import { RoomDispatchRetentionService } from './room-dispatch-retention.service';

/** Which finished dispatches retention keeps back: those with a room job of their round still to run. */
describe('RoomDispatchRetentionService.withPendingJob', () => {
  /** BullMQ states by job id (room-join-<dispatch>-<round>, room-leave-…); any other is 'unknown' (no such job). */
  const service = (states: Record<string, string>) => {
    const asked: Array<{ name: JobName; dispatchId: string; round?: number }> = [];
    const producer = {
      jobState: async (name: JobName, data: { dispatchId: string; round?: number }) => {
        asked.push({ name, ...data });
        return states[jobIdFor(name as JobName.RoomJoin, data) as string] ?? 'unknown';
      },
    } as unknown as JobProducer;
    return { retention: new RoomDispatchRetentionService({} as RoomDispatchesRepository, producer), asked };
  };

  it('keeps a dispatch whose join or leave of its round will still run, whichever of the two', async () => {
    const { retention } = service({
      'room-join-a-1': 'active', // cancelled while Zoom answers its join
      'room-leave-b-2': 'delayed', // cancelled in the meeting, its leave backing off
      'room-leave-c-1': 'waiting',
      'room-join-d-1': 'prioritized',
    });
    const page = ['a', 'b', 'c', 'd'].map((id) => ({ id, round: id === 'b' ? 2 : 1 }));
    expect([...(await retention.withPendingJob(page))].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('lets a dispatch go whose jobs finished, failed or are gone', async () => {
    const { retention } = service({ 'room-join-a-1': 'completed', 'room-leave-a-1': 'completed', 'room-join-b-1': 'failed', 'room-leave-c-1': 'failed' });
    const page = ['a', 'b', 'c', 'd'].map((id) => ({ id, round: 1 }));
    expect(await retention.withPendingJob(page)).toEqual(new Set());
  });

  it("looks at the dispatch's current round only: a stale round's job does nothing to the row", async () => {
    const { retention, asked } = service({ 'room-leave-a-1': 'delayed' });
    expect(await retention.withPendingJob([{ id: 'a', round: 2 }])).toEqual(new Set());
    expect(asked).toEqual([
      { name: JobName.RoomJoin, dispatchId: 'a', round: 2 },
      { name: JobName.RoomLeave, dispatchId: 'a', round: 2 },
    ]);
  });

  it('calls every status either active (holds its room) or finished (prunable), never both', () => {
    for (const s of Object.values(RoomDispatchStatus)) {
      expect([ACTIVE_DISPATCH_STATUSES.includes(s), FINISHED_DISPATCH_STATUSES.includes(s)].filter(Boolean)).toHaveLength(1);
    }
    expect([...FINISHED_DISPATCH_STATUSES].sort()).toEqual(['cancelled', 'failed', 'left']);
  });
});
