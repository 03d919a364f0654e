import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MediaArtifactsModule } from '../media-ingest';
import { SessionsModule } from '../sessions';
import { RecordingCompositionEntity } from './entities/recording-composition.entity';
import { RecordingCompositionsRepository } from './recording-compositions.repository';

/** What the compose workers and the recording API share: the compositions table and captured media. */
@Module({
  imports: [TypeOrmModule.forFeature([RecordingCompositionEntity]), SessionsModule, MediaArtifactsModule],
  providers: [RecordingCompositionsRepository],
  exports: [RecordingCompositionsRepository, SessionsModule, MediaArtifactsModule],
})
export class MediaComposeCoreModule {}
