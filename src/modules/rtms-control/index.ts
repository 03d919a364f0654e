/* The rtms-control module's door: its Nest modules and the processor the worker registers. */
export { RtmsControlModule } from './rtms-control.module';
export { RtmsControlApiModule } from './rtms-control-api.module';
export { RtmsControlWorkerModule } from './rtms-control-worker.module';
export { RtmsControlProcessor } from './rtms-control.processor';
