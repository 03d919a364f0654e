import { Module } from '@nestjs/common';
import { LiveMediaPublisher } from './live-media-publisher';
import { LivePublishMetrics } from './live-publish-metrics';
import { LiveTextLog } from './live-text-log';

/**
 * Stream workers' (and the app-event fan-out's) side of live delivery: writes each
 * session's text log and publishes media while the registry says someone listens.
 */
@Module({
  providers: [LivePublishMetrics, LiveTextLog, LiveMediaPublisher],
  exports: [LiveTextLog, LiveMediaPublisher],
})
export class LivePublisherModule {}
