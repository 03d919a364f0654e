import { Module } from '@nestjs/common';
import { DeletionLogController } from './deletion-log.controller';
import { DeletionLogModule } from './deletion-log.module';

/** GET /deletions (API processes only). */
@Module({ imports: [DeletionLogModule], controllers: [DeletionLogController] })
export class DeletionLogApiModule {}
