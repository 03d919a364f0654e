/* The live module's door: the publishing side (stream workers, app-event fan-out) and the serving side (API processes). */
export { LivePublisherModule } from './publish/live-publisher.module';
export { LiveApiModule } from './serve/live-api.module';
