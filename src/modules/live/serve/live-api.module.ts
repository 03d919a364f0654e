import { Module } from '@nestjs/common';
import { SessionsModule } from '../../sessions';
import { ActiveSessions } from './active-sessions';
import { LiveAuth } from './live-auth';
import { LiveClientWatch } from './live-client-watch';
import { LiveFanout } from './live-fanout.service';
import { LiveGateway } from './live-gateway';
import { LiveMetrics } from './live-metrics';
import { LiveSettings } from './live-settings';
import { LiveSseController } from './live-sse.controller';
import { LiveTicketsController } from './live-tickets.controller';
import { LiveTickets } from './live-tickets.service';
import { MediaRegistry } from './media-registry';
import { MediaSubscriber } from './media-subscriber';
import { TextLog } from './text-log';
import { TextLogReader } from './text-log-reader';

/** API processes' side of live delivery: the WebSocket and SSE endpoints and their fan-out from Redis. */
@Module({
  imports: [SessionsModule],
  controllers: [LiveTicketsController, LiveSseController],
  providers: [LiveSettings, LiveMetrics, TextLog, TextLogReader, ActiveSessions, MediaSubscriber, MediaRegistry, LiveFanout, LiveTickets, LiveAuth, LiveGateway, LiveClientWatch],
})
export class LiveApiModule {}
