import { Type } from '@nestjs/common';
import { MediaArtifactsApiModule } from './modules/media-ingest/media-artifacts-api.module';
import { OAuthModule } from './modules/oauth/oauth.module';
import { RtmsControlApiModule } from './modules/rtms-control/rtms-control-api.module';
import { SessionsApiModule } from './modules/sessions/sessions-api.module';
import { WebhooksApiModule } from './modules/webhooks/webhooks-api.module';
import { ZoomRoomsApiModule } from './modules/zoom-rooms/zoom-rooms-api.module';

/** Feature modules whose controllers the API serves. */
export const API_MODULES: Type<unknown>[] = [SessionsApiModule, WebhooksApiModule, OAuthModule, RtmsControlApiModule, ZoomRoomsApiModule, MediaArtifactsApiModule];
