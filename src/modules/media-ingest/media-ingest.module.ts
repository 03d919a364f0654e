import { Module } from '@nestjs/common';
import { LivePublisherModule } from '../live';
import { SessionsModule } from '../sessions';
import { AudioSegmentWriter } from './audio/audio-segment-writer';
import { AudioSpoolService } from './audio/audio-spool.service';
import { MediaArtifactsModule } from './media-artifacts.module';
import { IngestMetrics } from './ingest-metrics';
import { MediaBatchService } from './pipeline/media-batch.service';
import { CapturePolicyFilterFactory } from './capture/capture-policy-filter.factory';
import { MEDIA_ITEM_FILTER_FACTORY } from './pipeline/media-filter';
import { RunningStreams } from './stream/running-streams';
import { StreamEventsRecorder } from './stream/stream-events-recorder';
import { StreamRunner } from './stream/stream-runner.service';
import { StreamSignalSubscriber } from './stream/stream-signal-subscriber';
import { LostSpoolHosts } from './workers/lost-spool-hosts';
import { StreamWorkerPresence } from './workers/stream-worker-presence';

/**
 * RTMS stream workers: services behind the `stream.run` processor (registered in
 * src/worker/processors.ts). No controllers. Media pass the session's capture policy
 * (CapturePolicyFilter); audio then goes to the process's audio spool (local spool
 * files + Postgres bookkeeping; this host writes the WAV segments), the rest is batched
 * for the media-frames savers.
 */
@Module({
  imports: [SessionsModule, MediaArtifactsModule, LivePublisherModule],
  providers: [
    AudioSegmentWriter,
    AudioSpoolService,
    IngestMetrics,
    MediaBatchService,
    RunningStreams,
    StreamEventsRecorder,
    StreamRunner,
    StreamSignalSubscriber,
    StreamWorkerPresence,
    LostSpoolHosts,
    // The one MediaArtifactsModule provides (it reads what the session stored).
    { provide: MEDIA_ITEM_FILTER_FACTORY, useExisting: CapturePolicyFilterFactory },
  ],
  exports: [AudioSpoolService, StreamRunner, RunningStreams, StreamWorkerPresence, LostSpoolHosts, SessionsModule, MEDIA_ITEM_FILTER_FACTORY],
})
export class MediaIngestModule {}
