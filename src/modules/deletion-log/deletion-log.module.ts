import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppEventsModule } from '../app-events';
import { DeletionLogService } from './deletion-log.service';
import { DeletionEntryEntity } from './entities/deletion-entry.entity';
import { DeletionLogRepository } from './repositories/deletion-log.repository';

/**
 * The append-only audit trail of deletions. A leaf like app-events: every module that
 * deletes captured data (sessions, media-ingest, retention) imports it; it imports none
 * of them.
 */
@Module({
  imports: [TypeOrmModule.forFeature([DeletionEntryEntity]), AppEventsModule],
  providers: [DeletionLogRepository, DeletionLogService],
  exports: [DeletionLogService],
})
export class DeletionLogModule {}
