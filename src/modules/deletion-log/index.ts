/* The deletion-log module's door: record a deletion (in the caller's transaction) and its vocabulary. */
export { DeletionLogModule } from './deletion-log.module';
export { DeletionLogApiModule } from './deletion-log-api.module';
export { DeletionLogService } from './deletion-log.service';
export type { DeletionInput } from './deletion-log.service';
export { DeletionActor, DeletionEntryEntity, DeletionReason } from './entities/deletion-entry.entity';
