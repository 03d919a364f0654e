import { Processor } from '@nestjs/bullmq';
import { Job } from 'bullmq';
import { JobName } from '../jobs/job-names';
import { QueueProcessor } from '../jobs/queue-processor';
import { QueueName } from '../jobs/queue-names';
import { planProcessors } from './processor-check';
import { ProcessorRegistration } from './processor-registration';

@Processor(QueueName.OAuth)
class OAuthTestProcessor extends QueueProcessor {
  protected readonly queueName = QueueName.OAuth;
  protected async handle(_job: Job): Promise<void> {}
}

const oauth = (handles: JobName[]): ProcessorRegistration => ({ queue: QueueName.OAuth, processor: OAuthTestProcessor, handles, imports: [] });
/** Every job of the oauth queue: a complete registration. */
const ALL_OAUTH_JOBS = [JobName.TokenRefresh, JobName.OAuthDeauthorize];

describe('planProcessors (worker boot check)', () => {
  it('selects the processors of consumed queues', () => {
    const plan = planProcessors([QueueName.OAuth], [oauth(ALL_OAUTH_JOBS)], true);
    expect(plan.selected).toHaveLength(1);
    expect(plan.unconsumed).toEqual([]);
  });

  it('leaves queues without processors unconsumed when none were named', () => {
    const plan = planProcessors([QueueName.OAuth, QueueName.ZoomRooms], [oauth(ALL_OAUTH_JOBS)], false);
    expect(plan.unconsumed).toEqual([QueueName.ZoomRooms]);
  });

  it('refuses a named queue that has no processor', () => {
    expect(() => planProcessors([QueueName.ZoomRooms], [], true)).toThrow(/"zoom-rooms" is in WORKER_QUEUES but has no processor/);
  });

  it('refuses a job with no handler, two handlers, or a handler on the wrong queue', () => {
    expect(() => planProcessors([QueueName.OAuth], [oauth([])], true)).toThrow(/"token.refresh" on queue "oauth" has 0 handlers/);
    expect(() => planProcessors([QueueName.OAuth], [oauth([JobName.TokenRefresh, JobName.TokenRefresh])], true)).toThrow(/has 2 handlers/);
    expect(() => planProcessors([QueueName.OAuth], [oauth([JobName.TokenRefresh, JobName.RoomJoin])], true)).toThrow(/handles "room.join", which belongs to queue "zoom-rooms"/);
  });

  it('refuses two processors for one queue', () => {
    expect(() => planProcessors([QueueName.OAuth], [oauth([JobName.TokenRefresh]), oauth([])], true)).toThrow(/has 2 processors/);
  });
});
