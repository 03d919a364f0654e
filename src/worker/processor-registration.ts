import { DynamicModule, ForwardReference, Type } from '@nestjs/common';
import { JobName } from '../jobs/job-names';
import { QueueProcessor } from '../jobs/queue-processor';
import { QueueName } from '../jobs/queue-names';

/** What a worker needs to consume one queue: the processor and the module it uses. */
export interface ProcessorRegistration {
  queue: QueueName;
  processor: Type<QueueProcessor>;
  /** Every job name the processor's switch handles. */
  handles: readonly JobName[];
  /** Modules providing the services the processor delegates to. */
  imports: Array<Type<unknown> | DynamicModule | Promise<DynamicModule> | ForwardReference>;
}
