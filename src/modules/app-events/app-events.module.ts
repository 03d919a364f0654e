import { Module } from '@nestjs/common';
import { AppEventsService } from './app-events.service';
import { AppEventsRepository } from './repositories/app-events.repository';

/**
 * The app-event outbox. A leaf: every module that reports something to apps imports it,
 * and it imports no feature module.
 */
@Module({
  providers: [AppEventsRepository, AppEventsService],
  exports: [AppEventsService],
})
export class AppEventsModule {}
