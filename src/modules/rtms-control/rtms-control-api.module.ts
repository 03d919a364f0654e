import { Module } from '@nestjs/common';
import { RtmsControlController } from './rtms-control.controller';
import { RtmsControlModule } from './rtms-control.module';

/** The RTMS control routes (API processes only). */
@Module({ imports: [RtmsControlModule], controllers: [RtmsControlController] })
export class RtmsControlApiModule {}
