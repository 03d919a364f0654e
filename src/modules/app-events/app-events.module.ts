import { Module } from '@nestjs/common';
import { AppEventRetentionService } from './app-event-retention.service';
import { AppEventsService } from './app-events.service';
import { AppEventsRepository } from './repositories/app-events.repository';

/**
 * The app-event outbox. A leaf: every module that reports something to apps imports it,
 * and it imports no feature module.
 */
@Module({
  providers: [AppEventsRepository, AppEventsService, AppEventRetentionService],
  exports: [AppEventsService, AppEventRetentionService],
})
export class AppEventsModule {}
