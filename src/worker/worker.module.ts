import { DynamicModule, Logger, Module } from '@nestjs/common';
import { QueueName } from '../jobs/queue-names';
import { planProcessors } from './processor-check';
import { ProcessorRegistration } from './processor-registration';
import { PROCESSORS } from './processors';

export interface WorkerModuleOptions {
  queues: QueueName[];
  /** True when WORKER_QUEUES named the queues (then each must have a processor). */
  explicit: boolean;
  /** Override the build's registrations (tests). */
  registrations?: ProcessorRegistration[];
}

/** The only module that registers processors; API-only processes never import it. */
@Module({})
export class WorkerModule {
  static forRoot(options: WorkerModuleOptions): DynamicModule {
    const plan = planProcessors(options.queues, options.registrations ?? PROCESSORS, options.explicit);
    if (plan.unconsumed.length > 0) {
      new Logger(WorkerModule.name).warn(`No processor in this build for: ${plan.unconsumed.join(', ')} (jobs there wait)`);
    }
    const imports = [...new Set(plan.selected.flatMap((r) => r.imports))];
    return {
      module: WorkerModule,
      imports,
      providers: plan.selected.map((r) => r.processor),
    };
  }
}
