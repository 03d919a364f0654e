import { Module, OnModuleInit } from '@nestjs/common';
import { StreamSignalPublisher } from '../../common/stream-signals/stream-signal-publisher';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OAuthCoreModule } from '../oauth';
import { ZoomModule } from '../../zoom/zoom.module';
import { SessionCleanupHooks, SessionsModule } from '../sessions';
import { RtmsControlRequestEntity } from './entities/rtms-control-request.entity';
import { RtmsControlRunner } from './rtms-control.runner';
import { RtmsControlService } from './rtms-control.service';

/** RTMS start/stop/pause/resume: requests (API side) and the runner (worker side). No controllers. */
@Module({
  imports: [TypeOrmModule.forFeature([RtmsControlRequestEntity]), SessionsModule, OAuthCoreModule, ZoomModule],
  providers: [RtmsControlService, RtmsControlRunner, StreamSignalPublisher],
  exports: [RtmsControlService, RtmsControlRunner],
})
export class RtmsControlModule implements OnModuleInit {
  constructor(
    private readonly hooks: SessionCleanupHooks,
    private readonly control: RtmsControlService,
  ) {}

  onModuleInit(): void {
    // A session's control requests go with it: the deletion log counts them.
    this.hooks.registerRowCounter(async (sessionId, em) => ({ rtms_control_requests: await this.control.countForSession(sessionId, em) }));
  }
}
