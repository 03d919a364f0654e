import { JobName } from '../jobs/job-names';
import { QueueName } from '../jobs/queue-names';
import { OAuthCoreModule } from '../modules/oauth/oauth-core.module';
import { OAuthProcessor } from '../modules/oauth/oauth.processor';
import { RtmsControlModule } from '../modules/rtms-control/rtms-control.module';
import { RtmsControlProcessor } from '../modules/rtms-control/rtms-control.processor';
import { ZoomEventWsModule } from '../modules/webhooks/event-ws/zoom-event-ws.module';
import { ZoomEventsWorkerModule } from '../modules/webhooks/webhooks.module';
import { ZoomEventsProcessor } from '../modules/webhooks/zoom-events.processor';
import { ZoomRoomsModule } from '../modules/zoom-rooms/zoom-rooms.module';
import { ZoomRoomsProcessor } from '../modules/zoom-rooms/zoom-rooms.processor';
import { MediaIngestModule } from '../modules/media-ingest/media-ingest.module';
import { StreamRunProcessor } from '../modules/media-ingest/stream-run.processor';
import { MediaArtifactsModule } from '../modules/media-ingest/media-artifacts.module';
import { MediaFramesProcessor } from '../modules/media-ingest/media-frames.processor';
import { ProcessorRegistration } from './processor-registration';

/**
 * The processor of each queue in this build. A queue without an entry is not consumed
 * (its jobs wait in Redis); the boot check refuses a worker that is told to consume it.
 */
export const PROCESSORS: ProcessorRegistration[] = [
  { queue: QueueName.ZoomEvents, processor: ZoomEventsProcessor, handles: [JobName.ZoomEventProcess], imports: [ZoomEventsWorkerModule, ZoomEventWsModule] },
  { queue: QueueName.OAuth, processor: OAuthProcessor, handles: [JobName.TokenRefresh, JobName.OAuthDeauthorize], imports: [OAuthCoreModule] },
  {
    queue: QueueName.RtmsControl,
    processor: RtmsControlProcessor,
    handles: [JobName.RtmsStart, JobName.RtmsStop, JobName.RtmsPause, JobName.RtmsResume],
    imports: [RtmsControlModule],
  },
  {
    queue: QueueName.ZoomRooms,
    processor: ZoomRoomsProcessor,
    handles: [JobName.RoomJoin, JobName.RoomLeave, JobName.RoomsAutoDispatch],
    imports: [ZoomRoomsModule],
  },
  { queue: QueueName.RtmsStreams, processor: StreamRunProcessor, handles: [JobName.StreamRun], imports: [MediaIngestModule] },
  {
    queue: QueueName.MediaFrames,
    processor: MediaFramesProcessor,
    handles: [JobName.FrameSave, JobName.TranscriptSave, JobName.ChatSave, JobName.MediaPurge],
    imports: [MediaArtifactsModule],
  },
];
