import { JobName } from '../jobs/job-names';
import { QueueName } from '../jobs/queue-names';
import { OAuthProcessor, OAuthWorkerModule } from '../modules/oauth';
import { RtmsControlProcessor, RtmsControlWorkerModule } from '../modules/rtms-control';
import { ZoomEventsProcessor, ZoomEventsWorkerModule, ZoomEventWsModule } from '../modules/webhooks';
import { ZoomRoomsModule, ZoomRoomsProcessor } from '../modules/zoom-rooms';
import { MediaFramesProcessor, MediaFramesWorkerModule, MediaIngestModule, StreamRunProcessor } from '../modules/media-ingest';
import { AppWebhooksModule, AppWebhooksProcessor } from '../modules/app-webhooks';
import { MaintenanceProcessor, RetentionModule } from '../modules/retention';
import { MediaComposeModule, MediaComposeProcessor } from '../modules/media-compose';
import { ProcessorRegistration } from './processor-registration';

/**
 * The processor of each queue in this build. A queue without an entry is not consumed
 * (its jobs wait in Redis); the boot check refuses a worker that is told to consume it.
 */
export const PROCESSORS: ProcessorRegistration[] = [
  { queue: QueueName.ZoomEvents, processor: ZoomEventsProcessor, handles: [JobName.ZoomEventProcess], imports: [ZoomEventsWorkerModule, ZoomEventWsModule] },
  { queue: QueueName.OAuth, processor: OAuthProcessor, handles: [JobName.TokenRefresh, JobName.OAuthDeauthorize], imports: [OAuthWorkerModule] },
  {
    queue: QueueName.RtmsControl,
    processor: RtmsControlProcessor,
    handles: [JobName.RtmsStart, JobName.RtmsStop, JobName.RtmsPause, JobName.RtmsResume],
    imports: [RtmsControlWorkerModule],
  },
  {
    queue: QueueName.ZoomRooms,
    processor: ZoomRoomsProcessor,
    handles: [JobName.RoomJoin, JobName.RoomLeave, JobName.RoomsAutoDispatch, JobName.RoomsMeetingEnded],
    imports: [ZoomRoomsModule],
  },
  { queue: QueueName.RtmsStreams, processor: StreamRunProcessor, handles: [JobName.StreamRun], imports: [MediaIngestModule] },
  {
    queue: QueueName.MediaFrames,
    processor: MediaFramesProcessor,
    handles: [JobName.FrameSave, JobName.TranscriptSave, JobName.ChatSave, JobName.MediaPurge, JobName.RecordingCheck],
    imports: [MediaFramesWorkerModule],
  },
  { queue: QueueName.AppWebhooks, processor: AppWebhooksProcessor, handles: [JobName.AppEventFanout, JobName.WebhookDeliver], imports: [AppWebhooksModule] },
  { queue: QueueName.Maintenance, processor: MaintenanceProcessor, handles: [JobName.RetentionSweep, JobName.ErasureRun], imports: [RetentionModule] },
  { queue: QueueName.MediaCompose, processor: MediaComposeProcessor, handles: [JobName.RecordingCompose], imports: [MediaComposeModule] },
];
