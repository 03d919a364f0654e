import type { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../config/app.config';
import type { ZoomHttpClient, ZoomResponse } from '../http/zoom-http.client';
import { ZoomRequestError, ZoomTransportError } from '../zoom-errors';
import { ZoomOAuthClient } from './zoom-oauth.client';

const config = {
  get: () => ({ clientId: 'cid', clientSecret: 'secret', redirectUri: 'https://hub.example.test/cb', oauthBaseUrl: 'https://zoom.example.test' }),
} as unknown as ConfigService<AppConfig, true>;

function clientAnswering(status: number, json?: unknown, headers: Record<string, string> = {}) {
  const send = jest.fn(async (): Promise<ZoomResponse> => ({ status, json, headers: new Headers(headers) }));
  return { client: new ZoomOAuthClient({ send } as unknown as ZoomHttpClient, config), send };
}

describe('ZoomOAuthClient.revoke', () => {
  it('true when Zoom revoked the grant; the token goes in the form body', async () => {
    const { client, send } = clientAnswering(200, { status: 'success' });
    await expect(client.revoke('rt-live')).resolves.toBe(true);
    expect(send).toHaveBeenCalledWith(expect.objectContaining({ url: 'https://zoom.example.test/oauth/revoke', form: { token: 'rt-live' } }));
  });

  it.each([
    [{ reason: 'Invalid Token!', error: 'invalid_request' }], // what Zoom (and the simulator) answer for a token it does not know
    [{ reason: 'Invalid Token!', error: 'invalid_grant', code: 4735 }],
    [{ reason: 'Token has been revoked', error: 'invalid_grant' }],
    [{ reason: 'Revoked', code: 4741 }],
    [{ message: 'Invalid token.', code: '4735' }],
  ])('a 400 saying the token is already spent or revoked (%j) is false: as good as revoked', async (body) => {
    await expect(clientAnswering(400, body).client.revoke('rt')).resolves.toBe(false);
  });

  it.each([
    [{ reason: 'Invalid client_id or client_secret', error: 'invalid_client' }], // the client secret was rotated
    [{ reason: 'Token must not be sent in the URL query', error: 'invalid_request' }],
    [{ reason: 'unsupported token type', error: 'unsupported_token_type' }],
    [undefined], // no body at all
  ])('any other 400 (%j) is a ZoomRequestError: the grant may still be live', async (body) => {
    const err = await clientAnswering(400, body).client.revoke('rt-secret-value').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZoomRequestError);
    expect(err).toMatchObject({ code: 'zoom_request_failed', httpStatus: 400 });
    expect((err as Error).message).not.toContain('rt-secret-value');
  });

  it('401 is a ZoomRequestError; 429 and 5xx are retryable', async () => {
    await expect(clientAnswering(401, { reason: 'Invalid client_id or client_secret', error: 'invalid_client' }).client.revoke('rt')).rejects.toBeInstanceOf(ZoomRequestError);
    await expect(clientAnswering(429, {}, { 'retry-after': '3' }).client.revoke('rt')).rejects.toMatchObject({ retryable: true, retryAfterSec: 3 });
    await expect(clientAnswering(503, {}).client.revoke('rt')).rejects.toBeInstanceOf(ZoomTransportError);
  });
});
