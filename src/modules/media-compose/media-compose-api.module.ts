import { Module } from '@nestjs/common';
import { RecordingController } from './api/recording.controller';
import { RecordingRequestsService } from './api/recording-requests.service';
import { MediaComposeCoreModule } from './media-compose-core.module';

/** The recording API (API processes): GET/POST /sessions/:id/recording. */
@Module({ imports: [MediaComposeCoreModule], controllers: [RecordingController], providers: [RecordingRequestsService] })
export class MediaComposeApiModule {}
