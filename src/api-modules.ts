import { Type } from '@nestjs/common';
import { AppWebhooksApiModule } from './modules/app-webhooks';
import { ConsoleModule } from './modules/console';
import { DeletionLogApiModule } from './modules/deletion-log';
import { LiveApiModule } from './modules/live';
import { MediaArtifactsApiModule, StreamWorkersApiModule } from './modules/media-ingest';
import { MediaComposeApiModule } from './modules/media-compose';
import { OAuthModule } from './modules/oauth';
import { ErasuresApiModule } from './modules/retention';
import { RtmsControlApiModule } from './modules/rtms-control';
import { SessionsApiModule } from './modules/sessions';
import { WebhooksApiModule } from './modules/webhooks';
import { ZoomRoomsApiModule } from './modules/zoom-rooms';

/** Feature modules whose controllers the API serves. */
export const API_MODULES: Type<unknown>[] = [SessionsApiModule, WebhooksApiModule, OAuthModule, RtmsControlApiModule, ZoomRoomsApiModule, MediaArtifactsApiModule, AppWebhooksApiModule, LiveApiModule, DeletionLogApiModule, ErasuresApiModule, StreamWorkersApiModule, ConsoleModule, MediaComposeApiModule];
