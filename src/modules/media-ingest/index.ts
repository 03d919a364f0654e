/*
 * The media-ingest module's door: the stream workers and savers as Nest modules, their
 * processors, and the artifacts API.
 */
export { MediaIngestModule } from './media-ingest.module';
export { MediaArtifactsModule } from './media-artifacts.module';
export { MediaArtifactsApiModule } from './media-artifacts-api.module';
export { StreamRunProcessor } from './stream-run.processor';
export { MediaFramesProcessor } from './media-frames.processor';
export { MediaRetentionService } from './retention/media-retention.service';
export type { PurgeBatchResult, StoredCategory } from './retention/media-retention.service';
export { StorageHealth } from './storage/storage-health.service';
