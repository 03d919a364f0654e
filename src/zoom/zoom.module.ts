import { Module } from '@nestjs/common';
import { ZoomOAuthClient } from './auth/zoom-oauth.client';
import { ZoomS2sTokenService } from './auth/zoom-s2s-token.service';
import { ZoomCallPolicy } from './call/zoom-call-policy';
import { ZoomHttpClient } from './http/zoom-http.client';

/**
 * Talking to Zoom: the HTTP client, the OAuth endpoints, the account (S2S) token and the
 * one call-outcome policy. The user token provider (ZoomTokenProvider) is in this layer
 * too, but the oauth module provides it, since it refreshes grants that module stores.
 */
@Module({
  providers: [ZoomHttpClient, ZoomOAuthClient, ZoomS2sTokenService, ZoomCallPolicy],
  exports: [ZoomHttpClient, ZoomOAuthClient, ZoomS2sTokenService, ZoomCallPolicy],
})
export class ZoomModule {}
