import { Module } from '@nestjs/common';
import { SessionsModule } from '../sessions';
import { MediaArtifactsModule } from './media-artifacts.module';
import { RecordingCheckSweeper } from './recording/recording-check.sweeper';

/** A process that consumes media-frames: the savers' services, and recording.ready's safety net. */
@Module({ imports: [MediaArtifactsModule, SessionsModule], providers: [RecordingCheckSweeper], exports: [MediaArtifactsModule] })
export class MediaFramesWorkerModule {}
