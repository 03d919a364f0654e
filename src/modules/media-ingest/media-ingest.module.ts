import { Module } from '@nestjs/common';
import { SessionsModule } from '../sessions/sessions.module';
import { IngestMetrics } from './ingest-metrics';
import { KeepEverythingFilterFactory, MEDIA_ITEM_FILTER_FACTORY } from './pipeline/media-filter';
import { RunningStreams } from './stream/running-streams';
import { StreamEventsRecorder } from './stream/stream-events-recorder';
import { StreamRunner } from './stream/stream-runner.service';
import { StreamSignalSubscriber } from './stream/stream-signal-subscriber';

/**
 * RTMS stream workers: services behind the `stream.run` processor (registered in
 * src/worker/processors.ts). No controllers. The capture module replaces
 * MEDIA_ITEM_FILTER_FACTORY with the capture-policy filter.
 */
@Module({
  imports: [SessionsModule],
  providers: [
    IngestMetrics,
    RunningStreams,
    StreamEventsRecorder,
    StreamRunner,
    StreamSignalSubscriber,
    { provide: MEDIA_ITEM_FILTER_FACTORY, useClass: KeepEverythingFilterFactory },
  ],
  exports: [StreamRunner, RunningStreams, SessionsModule, MEDIA_ITEM_FILTER_FACTORY],
})
export class MediaIngestModule {}
