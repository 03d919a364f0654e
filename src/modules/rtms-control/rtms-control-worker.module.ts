import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RtmsControlRequestEntity } from './entities/rtms-control-request.entity';
import { RtmsControlModule } from './rtms-control.module';
import { RtmsControlSweeper } from './rtms-control.sweeper';

/** A process that consumes rtms-control: the runner's services, and the sweeper of requests whose job is gone. */
@Module({ imports: [RtmsControlModule, TypeOrmModule.forFeature([RtmsControlRequestEntity])], providers: [RtmsControlSweeper], exports: [RtmsControlModule] })
export class RtmsControlWorkerModule {}
