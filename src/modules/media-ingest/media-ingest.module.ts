import { Module } from '@nestjs/common';
import { SessionsModule } from '../sessions/sessions.module';
import { IngestMetrics } from './ingest-metrics';
import { CapturePolicyFilterFactory } from './capture/capture-policy-filter.factory';
import { MEDIA_ITEM_FILTER_FACTORY } from './pipeline/media-filter';
import { RunningStreams } from './stream/running-streams';
import { StreamEventsRecorder } from './stream/stream-events-recorder';
import { StreamRunner } from './stream/stream-runner.service';
import { StreamSignalSubscriber } from './stream/stream-signal-subscriber';

/**
 * RTMS stream workers: services behind the `stream.run` processor (registered in
 * src/worker/processors.ts). No controllers. Media pass the session's capture policy
 * (CapturePolicyFilter) before they are batched for the savers.
 */
@Module({
  imports: [SessionsModule],
  providers: [
    IngestMetrics,
    RunningStreams,
    StreamEventsRecorder,
    StreamRunner,
    StreamSignalSubscriber,
    { provide: MEDIA_ITEM_FILTER_FACTORY, useClass: CapturePolicyFilterFactory },
  ],
  exports: [StreamRunner, RunningStreams, SessionsModule, MEDIA_ITEM_FILTER_FACTORY],
})
export class MediaIngestModule {}
