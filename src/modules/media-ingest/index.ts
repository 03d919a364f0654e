/*
 * The media-ingest module's door: the stream workers and savers as Nest modules, their
 * processors, and the artifacts API.
 */
export { MediaIngestModule } from './media-ingest.module';
export { MediaArtifactsModule } from './media-artifacts.module';
export { MediaFramesWorkerModule } from './media-frames-worker.module';
export { MediaArtifactsApiModule } from './media-artifacts-api.module';
export { StreamWorkersApiModule } from './stream-workers-api.module';
export { StreamRunProcessor } from './stream-run.processor';
export { MediaFramesProcessor } from './media-frames.processor';
export { ParticipantMediaService } from './erasure/participant-media.service';
export type { ParticipantRowsDeleted } from './erasure/participant-media.service';
export type { UserInSession, UserObject } from './repositories/participant-media.repository';
export { MIXED_AUDIO_USER_ID } from './repositories/participant-media.repository';
export { MediaRetentionService } from './retention/media-retention.service';
export type { PurgeBatchResult, StoredCategory } from './retention/media-retention.service';
export { StorageHealth } from './storage/storage-health.service';
// What media-compose needs: the sources of a recording, storing it, announcing it.
export { RecordingMediaService, composedKey, COMPOSED_KINDS } from './recording/recording-media.service';
export type { ComposedFile, RecordingSource } from './recording/recording-media.service';
export { RecordingReadyService, recordingEnded } from './recording/recording-ready.service';
export type { ComposedRecording } from './recording/recording-ready.service';
export type { ArtifactView } from './artifacts/artifacts.service';
export { isStorageUnavailable } from './storage/storage-errors';
export { StorageObjectNotFoundError } from './storage/media-storage';
