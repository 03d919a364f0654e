import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppEventsModule } from '../app-events';
import { DeletionLogModule } from '../deletion-log';
import { ParticipantEntity } from './entities/participant.entity';
import { RtmsStreamEntity } from './entities/rtms-stream.entity';
import { SessionEventEntity } from './entities/session-event.entity';
import { SessionEntity } from './entities/session.entity';
import { ParticipantsRepository } from './repositories/participants.repository';
import { ParticipantLookupRepository } from './repositories/participant-lookup.repository';
import { ParticipantDirectory } from './participant-directory.service';
import { RtmsStreamsRepository } from './repositories/rtms-streams.repository';
import { SessionEventsRepository } from './repositories/session-events.repository';
import { SessionsRepository } from './repositories/sessions.repository';
import { SessionRetentionRepository } from './repositories/session-retention.repository';
import { SessionRetentionService } from './session-retention.service';
import { SessionCleanupHooks } from './session-cleanup.hooks';
import { SessionEventsService } from './session-events.service';
import { SessionsService } from './sessions.service';
import { StreamsService } from './streams.service';

/**
 * Owns sessions, streams, events and participants; other modules go through its
 * services (the repositories, which hold the SQL, stay inside). No controllers here, so
 * workers can import it without serving routes.
 */
@Module({
  imports: [TypeOrmModule.forFeature([SessionEntity, RtmsStreamEntity, SessionEventEntity, ParticipantEntity]), AppEventsModule, DeletionLogModule],
  providers: [
    SessionsRepository,
    SessionEventsRepository,
    RtmsStreamsRepository,
    ParticipantsRepository,
    SessionsService,
    SessionEventsService,
    StreamsService,
    SessionCleanupHooks,
    ParticipantLookupRepository,
    ParticipantDirectory,
    SessionRetentionRepository,
    SessionRetentionService,
  ],
  exports: [SessionsService, SessionEventsService, StreamsService, SessionCleanupHooks, ParticipantDirectory, SessionRetentionService],
})
export class SessionsModule {}
