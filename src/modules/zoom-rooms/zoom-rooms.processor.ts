import { Processor } from '@nestjs/bullmq';
import { Job } from 'bullmq';
import { JobName } from '../../jobs/job-names';
import { QueueJob, RoomJobPayload, RoomsAutoDispatchPayload } from '../../jobs/job-payloads';
import { QueueProcessor, unknownJob } from '../../jobs/queue-processor';
import { QueueName } from '../../jobs/queue-names';
import { RoomDispatchRunner } from './room-dispatch.runner';
import { RoomDispatchesService } from './room-dispatches.service';
import { RoomMeetingEndService } from './room-meeting-end.service';

/** `zoom-rooms` queue: room.join, room.leave (delayed), rooms.auto-dispatch and rooms.meeting-ended. */
@Processor(QueueName.ZoomRooms)
export class ZoomRoomsProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.ZoomRooms;

  constructor(
    private readonly runner: RoomDispatchRunner,
    private readonly dispatches: RoomDispatchesService,
    private readonly meetingEnd: RoomMeetingEndService,
  ) {
    super();
  }

  protected async handle(job: QueueJob<QueueName.ZoomRooms>): Promise<unknown> {
    switch (job.name) {
      case JobName.RoomJoin:
        return this.runner.join(job);
      case JobName.RoomLeave:
        return this.runner.leave(job);
      case JobName.RoomsAutoDispatch:
        return this.dispatches.autoDispatch(job.data.sessionId);
      case JobName.RoomsMeetingEnded:
        return this.meetingEnd.meetingEnded(job.data.sessionId);
      default:
        return unknownJob(job);
    }
  }

  protected override async onFinalFailure(job: Job, err: Error): Promise<void> {
    if (job.name === JobName.RoomsAutoDispatch) {
      // On the session's timeline; the session's next stream job queues it again after its media handshake (JobProducer.requeue).
      const { sessionId } = job.data as Partial<RoomsAutoDispatchPayload>;
      if (sessionId) await this.dispatches.autoDispatchFailed(sessionId, err, job.attemptsMade);
      return;
    }
    const data = job.data as Partial<RoomJobPayload>;
    if (!data?.dispatchId) return;
    if (job.name === JobName.RoomJoin) await this.runner.finalFailure(data.dispatchId, 'join', err);
    if (job.name === JobName.RoomLeave) await this.runner.finalFailure(data.dispatchId, 'leave', err);
  }
}
