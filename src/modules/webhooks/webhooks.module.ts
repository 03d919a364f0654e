import { Module } from '@nestjs/common';
import { StreamSignalPublisher } from '../../common/stream-signals/stream-signal-publisher';
import { SessionsModule } from '../sessions';
import { PendingEventsSweeper } from './pending-events.sweeper';
import { ZoomEventHandlerService } from './zoom-event-handler.service';
import { ZoomEventIntakeService } from './zoom-event-intake.service';
import { ZoomEventWriter } from './zoom-event-writer';

/** Zoom event intake (shared by the webhook route and the event WebSocket) and handling. */
@Module({
  imports: [SessionsModule],
  providers: [ZoomEventIntakeService, ZoomEventWriter, ZoomEventHandlerService, StreamSignalPublisher],
  exports: [ZoomEventIntakeService, ZoomEventHandlerService],
})
export class WebhooksModule {}

/** Worker side: the zoom-events processor's dependencies plus the pending-events sweeper. */
@Module({ imports: [WebhooksModule, SessionsModule], providers: [PendingEventsSweeper], exports: [WebhooksModule] })
export class ZoomEventsWorkerModule {}
