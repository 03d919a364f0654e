import { Inject, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SessionCleanupHooks, SessionsModule } from '../sessions';
import { CapturePolicyFilterFactory } from './capture/capture-policy-filter.factory';
import { AudioPartEntity } from './entities/audio-part.entity';
import { AudioSegmentEntity } from './entities/audio-segment.entity';
import { MediaArtifactEntity } from './entities/media-artifact.entity';
import { TranscriptSegmentEntity } from './entities/transcript-segment.entity';
import { ArtifactsService } from './artifacts/artifacts.service';
import { AudioSegmentsRepository } from './repositories/audio-segments.repository';
import { MediaArtifactsRepository } from './repositories/media-artifacts.repository';
import { TranscriptSegmentsRepository } from './repositories/transcript-segments.repository';
import { MediaSaverService } from './savers/media-saver.service';
import { MEDIA_STORAGE, MediaStorage } from './storage/media-storage';
import { mediaStorageProvider } from './storage/media-storage.provider';

/**
 * Captured media: storage drivers, the repositories of the media tables (repositories/:
 * all of this module's SQL), the media-frames savers, artifacts and transcripts
 * (no controllers; media-artifacts-api.module.ts serves them). Deletes a session's
 * stored media when the session is deleted.
 */
@Module({
  imports: [TypeOrmModule.forFeature([MediaArtifactEntity, TranscriptSegmentEntity, AudioSegmentEntity, AudioPartEntity]), SessionsModule],
  providers: [mediaStorageProvider, MediaArtifactsRepository, TranscriptSegmentsRepository, AudioSegmentsRepository, MediaSaverService, ArtifactsService, CapturePolicyFilterFactory],
  exports: [MEDIA_STORAGE, AudioSegmentsRepository, MediaSaverService, ArtifactsService, CapturePolicyFilterFactory],
})
export class MediaArtifactsModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly hooks: SessionCleanupHooks,
    private readonly savers: MediaSaverService,
    @Inject(MEDIA_STORAGE) private readonly storage: MediaStorage,
  ) {}

  onModuleInit(): void {
    this.hooks.register(async (sessionId) => {
      await this.savers.purgeSessionObjects(sessionId);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.storage.close?.();
  }
}
