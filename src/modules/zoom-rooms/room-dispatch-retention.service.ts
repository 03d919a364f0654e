import { Injectable } from '@nestjs/common';
import { JobName } from '../../jobs/job-names';
import { isLiveJobState, JobProducer } from '../../jobs/job-producer.service';
import { FinishedDispatch, RoomDispatchesRepository } from './repositories/room-dispatches.repository';

/**
 * The zoom-rooms module's part of retention (docs/retention.md "Zoom Room dispatches"):
 * finished dispatches by age. What counts as finished is decided here — its status
 * (left, failed, cancelled; an automatic one only once its session is gone), and no
 * room job of its round still to run.
 */
@Injectable()
export class RoomDispatchRetentionService {
  constructor(
    private readonly rows: RoomDispatchesRepository,
    private readonly producer: JobProducer,
  ) {}

  findFinishedOlderThan(days: number, after: Pick<FinishedDispatch, 'updatedAt' | 'id'> | null, limit: number): Promise<FinishedDispatch[]> {
    return this.rows.findFinishedOlderThan(days, after, limit);
  }

  /**
   * The dispatches of `page` with a room.join or room.leave job of their round that will
   * still run (waiting, delayed, running): a join that Zoom is answering as the dispatch is
   * cancelled, a room cancelled in the meeting whose leave is being retried. They are kept:
   * the job needs its row to take the room out.
   */
  async withPendingJob(page: Array<Pick<FinishedDispatch, 'id' | 'round'>>): Promise<Set<string>> {
    const pending = new Set<string>();
    await Promise.all(
      page.map(async (d) => {
        const data = { dispatchId: d.id, round: d.round };
        const states = await Promise.all([this.producer.jobState(JobName.RoomJoin, data), this.producer.jobState(JobName.RoomLeave, data)]);
        if (states.some(isLiveJobState)) pending.add(d.id);
      }),
    );
    return pending;
  }

  /** Deletes these dispatches, each only if it is still finished and as old (re-checked on the row). */
  deleteFinishedOlderThan(ids: string[], days: number): Promise<number> {
    return this.rows.deleteFinishedOlderThan(ids, days);
  }
}
