import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OAuthConnectionEntity } from './entities/oauth-connection.entity';
import { OAuthConnectionsService } from './oauth-connections.service';
import { OAuthFlowService } from './oauth-flow.service';
import { OAuthStateStore } from './oauth-state.store';
import { ZoomHttpClient } from './zoom-http.client';
import { ZoomOAuthClient } from './zoom-oauth.client';
import { ZoomS2sTokenService } from './zoom-s2s-token.service';
import { ZoomTokenProvider } from './zoom-token.provider';

/**
 * Zoom credentials for the rest of the hub: the token vault, the user token provider,
 * the S2S token, and the Zoom HTTP client. No controllers, so workers (rtms-control,
 * zoom-rooms, the oauth processor) can import it without serving routes.
 */
@Module({
  imports: [TypeOrmModule.forFeature([OAuthConnectionEntity])],
  providers: [
    ZoomHttpClient,
    ZoomOAuthClient,
    OAuthStateStore,
    OAuthConnectionsService,
    OAuthFlowService,
    ZoomTokenProvider,
    ZoomS2sTokenService,
  ],
  exports: [ZoomHttpClient, ZoomOAuthClient, OAuthConnectionsService, OAuthFlowService, ZoomTokenProvider, ZoomS2sTokenService],
})
export class OAuthCoreModule {}
