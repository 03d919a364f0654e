import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigService } from '@nestjs/config';
import { toErrorBody } from '../../common/errors/all-exceptions.filter';
import { AppConfig } from '../../config/app.config';
import { ZoomOAuthClient } from '../../zoom/auth/zoom-oauth.client';
import { ZoomHttpClient, ZoomResponse } from '../../zoom/http/zoom-http.client';
import { OAuthConnectionsService } from './oauth-connections.service';
import { OAuthFlowService } from './oauth-flow.service';
import { OAuthStateStore, PendingAuthorization } from './oauth-state.store';

describe('OAuthFlowService.callback: a token response without refresh_token', () => {
  const zoomConfig = {
    clientId: 'cid',
    clientSecret: 'secret',
    redirectUri: 'https://hub.example.test/api/v1/oauth/zoom/callback',
    oauthBaseUrl: 'https://zoom.example.test',
    apiBaseUrl: 'https://api.zoom.example.test/v2',
  };
  const config = { get: (key: string) => (key === 'zoom' ? zoomConfig : { redirectAllowlist: [] }) } as unknown as ConfigService<AppConfig, true>;
  const pending: PendingAuthorization = { codeVerifier: 'v'.repeat(43), ownerKeyFingerprint: null, owner: null, appUserId: null, redirectAfter: null, createdAt: Date.now() };

  it("answers 502 zoom_request_failed (Zoom's fault), calls nothing further and stores nothing", async () => {
    const tokenAnswer: ZoomResponse = { status: 200, json: { access_token: 'at', token_type: 'bearer', expires_in: 3600, scope: 'user:read' }, headers: new Headers() };
    const send = jest.fn().mockResolvedValue(tokenAnswer);
    const zoom = new ZoomOAuthClient({ send } as unknown as ZoomHttpClient, config);
    const storeAuthorized = jest.fn();
    const flow = new OAuthFlowService(
      { consume: async () => pending } as unknown as OAuthStateStore,
      zoom,
      { storeAuthorized } as unknown as OAuthConnectionsService,
      config,
    );

    const err = await flow.callback({ state: 's', code: 'c' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(toErrorBody(err)).toMatchObject({
      statusCode: 502,
      error: 'zoom_request_failed',
      details: { zoomStatus: 200, zoomCode: null, zoomMessage: 'response lacks refresh_token' },
    });
    expect(send).toHaveBeenCalledTimes(1); // the exchange only: no /users/me
    expect(storeAuthorized).not.toHaveBeenCalled();
  });

  it('docs/api.md says so, and no longer promises 400 invalid_token_response', () => {
    const doc = readFileSync(join(__dirname, '../../../docs/api.md'), 'utf8');
    expect(doc).not.toMatch(/\| 400 \|[^\n]*`invalid_token_response`/);
    expect(doc).toMatch(/without `refresh_token`[^]*?502 `zoom_request_failed`/);
  });
});
