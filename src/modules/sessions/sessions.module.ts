import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ParticipantEntity } from './entities/participant.entity';
import { RtmsStreamEntity } from './entities/rtms-stream.entity';
import { SessionEventEntity } from './entities/session-event.entity';
import { SessionEntity } from './entities/session.entity';
import { SessionCleanupHooks } from './session-cleanup.hooks';
import { SessionsService } from './sessions.service';
import { StreamsService } from './streams.service';

/**
 * Owns sessions, streams, events and participants; other modules go through its
 * services. No controllers here, so workers can import it without serving routes.
 */
@Module({
  imports: [TypeOrmModule.forFeature([SessionEntity, RtmsStreamEntity, SessionEventEntity, ParticipantEntity])],
  providers: [SessionsService, StreamsService, SessionCleanupHooks],
  exports: [SessionsService, StreamsService, SessionCleanupHooks],
})
export class SessionsModule {}
