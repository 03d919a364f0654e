/*
 * The media-compose module's door (docs/recordings.md): the compose workers (queue
 * media-compose, job recording.compose) that build a session's recording.mp4, and the
 * recording API.
 */
export { MediaComposeModule } from './media-compose.module';
export { MediaComposeApiModule } from './media-compose-api.module';
export { MediaComposeProcessor } from './media-compose.processor';
