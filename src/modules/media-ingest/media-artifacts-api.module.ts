import { Module } from '@nestjs/common';
import { ArtifactsController } from './artifacts/artifacts.controller';
import { MediaArtifactsModule } from './media-artifacts.module';

/** The artifacts and transcript REST API (API processes only). */
@Module({ imports: [MediaArtifactsModule], controllers: [ArtifactsController] })
export class MediaArtifactsApiModule {}
