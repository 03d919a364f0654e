/* The live module's door: the publishing side (stream workers, app-event fan-out) and the serving side (API processes). */
export { LivePublisherModule } from './publish/live-publisher.module';
export { LiveTextLog } from './publish/live-text-log';
export { LiveMediaPublisher } from './publish/live-media-publisher';
export { LiveMediaTap } from './publish/live-media-tap';
export { frameFormatOf } from './publish/frame-format';
export { LiveApiModule } from './serve/live-api.module';
export { FrameFormat } from './live-protocol';
export type { LiveBinaryMedia, LiveEventName, LiveTextEntry } from './live-protocol';
