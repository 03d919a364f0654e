import { Module } from '@nestjs/common';
import { ZoomModule } from '../../../zoom/zoom.module';
import { WebhooksModule } from '../webhooks.module';
import { ZoomEventWsService } from './zoom-event-ws.service';

/**
 * Zoom's event WebSocket as a second event source (docs/event-websocket.md). Loaded by
 * every process that consumes the zoom-events queue (src/worker/processors.ts); it stays
 * idle unless ZOOM_EVENT_WS_URL and ZOOM_EVENT_SUBSCRIPTION_ID are set, and then a Redis
 * lease lets exactly one of those processes hold the socket.
 */
@Module({
  imports: [WebhooksModule, ZoomModule],
  providers: [ZoomEventWsService],
  exports: [ZoomEventWsService],
})
export class ZoomEventWsModule {}
