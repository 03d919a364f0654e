import { Inject, Module, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppEventsModule } from '../app-events';
import { DeletionLogModule } from '../deletion-log';
import { SessionCleanupHooks, SessionsModule } from '../sessions';
import { CapturePolicyFilterFactory } from './capture/capture-policy-filter.factory';
import { AudioPartEntity } from './entities/audio-part.entity';
import { AudioSegmentEntity } from './entities/audio-segment.entity';
import { MediaArtifactEntity } from './entities/media-artifact.entity';
import { RecordingCompletionEntity } from './entities/recording-completion.entity';
import { TranscriptSegmentEntity } from './entities/transcript-segment.entity';
import { RecordingHolds } from './recording/recording-holds';
import { RecordingReadyService } from './recording/recording-ready.service';
import { RecordingMediaService } from './recording/recording-media.service';
import { RecordingCompletionsRepository } from './repositories/recording-completions.repository';
import { ArtifactsService } from './artifacts/artifacts.service';
import { AudioSegmentsRepository } from './repositories/audio-segments.repository';
import { MediaArtifactsRepository } from './repositories/media-artifacts.repository';
import { TranscriptSegmentsRepository } from './repositories/transcript-segments.repository';
import { ParticipantMediaRepository } from './repositories/participant-media.repository';
import { ErasedParticipants } from './erasure/erased-participants';
import { ParticipantMediaService } from './erasure/participant-media.service';
import { MediaRetentionRepository } from './repositories/media-retention.repository';
import { MediaRetentionService } from './retention/media-retention.service';
import { ReadinessChecks } from '../../common/health/readiness-checks';
import { MediaLossRecorder } from './savers/media-loss';
import { MediaSaverService } from './savers/media-saver.service';
import { StorageRetryPolicy } from './savers/storage-retry';
import { StorageHealth } from './storage/storage-health.service';
import { StoragePendingLedger } from './storage/storage-pending';
import { MEDIA_STORAGE, MediaStorage } from './storage/media-storage';
import { mediaStorageProvider } from './storage/media-storage.provider';

/**
 * Captured media: storage drivers, the repositories of the media tables (repositories/:
 * all of this module's SQL), the media-frames savers, artifacts and transcripts
 * (no controllers; media-artifacts-api.module.ts serves them). Deletes a session's
 * stored media when the session is deleted. Announces a session's recording.ready
 * (recording/). Media that storage cannot take waits for it (savers/storage-retry.ts),
 * and readiness reports storage (storage/storage-health.service.ts).
 */
@Module({
  imports: [TypeOrmModule.forFeature([MediaArtifactEntity, TranscriptSegmentEntity, AudioSegmentEntity, AudioPartEntity, RecordingCompletionEntity]), SessionsModule, AppEventsModule, DeletionLogModule],
  providers: [
    mediaStorageProvider,
    MediaArtifactsRepository,
    TranscriptSegmentsRepository,
    AudioSegmentsRepository,
    RecordingCompletionsRepository,
    MediaSaverService,
    ArtifactsService,
    CapturePolicyFilterFactory,
    RecordingHolds,
    RecordingReadyService,
    RecordingMediaService,
    StoragePendingLedger,
    StorageHealth,
    MediaLossRecorder,
    StorageRetryPolicy,
    ParticipantMediaRepository,
    ParticipantMediaService,
    ErasedParticipants,
    MediaRetentionRepository,
    MediaRetentionService,
  ],
  exports: [MEDIA_STORAGE, AudioSegmentsRepository, RecordingCompletionsRepository, MediaSaverService, ArtifactsService, CapturePolicyFilterFactory, RecordingHolds, RecordingReadyService, RecordingMediaService, StorageRetryPolicy, ParticipantMediaService, MediaRetentionService, StorageHealth],
})
export class MediaArtifactsModule implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly hooks: SessionCleanupHooks,
    private readonly savers: MediaSaverService,
    @Inject(MEDIA_STORAGE) private readonly storage: MediaStorage,
    private readonly readiness: ReadinessChecks,
    private readonly storageHealth: StorageHealth,
  ) {}

  onModuleInit(): void {
    // Returns the stored objects (and bytes) that went, and counts the media rows the
    // session's deletion takes: the deletion log and media.deleted report both.
    this.hooks.register((sessionId) => this.savers.purgeSessionObjects(sessionId));
    this.hooks.registerRowCounter((sessionId, em) => this.savers.countSessionRows(sessionId, em));
    this.readiness.register('storage', () => this.storageHealth.readiness());
  }

  /** The storage prefix must be writable (a clear error at boot, readiness down; docs/storage.md). */
  async onApplicationBootstrap(): Promise<void> {
    await this.storageHealth.checkAtBoot();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.storage.close?.();
  }
}
