import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../config/app.config';
import { DOMAIN_ERROR_HTTP_STATUS } from '../../common/errors/error-codes';
import type { ZoomHttpClient } from '../../zoom/http/zoom-http.client';
import { ZoomRequestError } from '../../zoom/zoom-errors';
import type { RefreshedPair } from '../../zoom/auth/user-grant-store';
import { QueryFailedError, Repository } from 'typeorm';
import { TokenCipher } from '../../common/crypto/token-cipher';
import { JobProducer } from '../../jobs/job-producer.service';
import { RefreshLease } from '../../zoom/auth/refresh-lease';
import { ZoomOAuthClient } from '../../zoom/auth/zoom-oauth.client';
import { AppEventsService } from '../app-events';
import { ConnectionStatus, OAuthConnectionEntity } from './entities/oauth-connection.entity';
import { OAuthConnectionsService, StoreConnectionInput } from './oauth-connections.service';
import { OAuthConnectionsRepository } from './repositories/oauth-connections.repository';
import { RefreshedPairStash } from './refreshed-pair.stash';
import { tokenAad } from './token-aad';

/** What node-postgres throws for a unique violation, wrapped by TypeORM. */
function uniqueViolation(constraint: string): QueryFailedError {
  const driverError = Object.assign(new Error(`duplicate key value violates unique constraint "${constraint}"`), { code: '23505', constraint });
  return new QueryFailedError('INSERT INTO "oauth_connections" ...', [], driverError);
}

const input: StoreConnectionInput = {
  user: { id: 'zu_1', accountId: 'za_1', email: 'u@example.test', displayName: 'U' },
  tokens: { accessToken: 'at_new', refreshToken: 'rt_new', expiresInSec: 3600, scope: 'user:read' },
  ownerKeyFingerprint: 'fp',
  owner: null,
  appUserId: 'app_1',
};

describe('OAuthConnectionsService.storeAuthorized', () => {
  const cipher = new TokenCipher([{ id: 'k1', key: randomBytes(32) }]);
  /** The row the concurrent callback inserted between our read and our insert. */
  const winner = { id: '6f1c1e36-8d43-4bb5-9b6c-2f1f5d2b7c01', zoomUserId: 'zu_1', zoomAccountId: 'za_1', tokenVersion: 1, expiresAt: new Date(Date.now() + 3600_000) } as OAuthConnectionEntity;

  function setup(insertError: Error) {
    const findOne = jest
      .fn()
      .mockResolvedValueOnce(null) // the first read: no connection yet
      .mockResolvedValueOnce(winner) // the re-read after the unique violation
      .mockResolvedValue({ ...winner, tokenVersion: 2 }); // get(id) after the write
    const insert = jest.fn().mockRejectedValue(insertError);
    const update = jest.fn().mockResolvedValue({ affected: 1 });
    const repo = { findOne, insert, update } as unknown as Repository<OAuthConnectionEntity>;
    const enqueue = jest.fn().mockResolvedValue(undefined);
    const service = new OAuthConnectionsService(
      repo,
      cipher,
      {} as ZoomOAuthClient,
      { enqueue } as unknown as JobProducer,
      {} as AppEventsService,
      {} as OAuthConnectionsRepository,
      {} as RefreshLease,
      {} as RefreshedPairStash,
    );
    return { service, findOne, insert, update, enqueue };
  }

  it('a callback that loses the first-insert race on the user index updates the winner’s row instead of failing', async () => {
    const { service, insert, update, enqueue } = setup(uniqueViolation('UQ_oauth_connections_zoom_user_account'));
    const saved = await service.storeAuthorized(input);

    expect(saved).toMatchObject({ id: winner.id, tokenVersion: 2 });
    expect(insert).toHaveBeenCalledTimes(1);
    expect(update).toHaveBeenCalledTimes(1);
    const [where, values] = update.mock.calls[0] as [{ id: string }, Record<string, unknown>];
    expect(where).toEqual({ id: winner.id });
    // The version is bumped as any re-consent does, so a refresh racing it loses.
    expect(typeof values.tokenVersion).toBe('function');
    expect((values.tokenVersion as () => string)()).toBe('token_version + 1');
    expect(values).toMatchObject({ status: ConnectionStatus.Active, statusReason: null, appUserId: 'app_1', scopes: 'user:read' });
    // The fresh tokens are sealed to the row that exists, not to the id of the failed insert.
    expect(cipher.decrypt(values.accessTokenEnc as string, tokenAad(winner.id, 'access_token'))).toBe('at_new');
    expect(cipher.decrypt(values.refreshTokenEnc as string, tokenAad(winner.id, 'refresh_token'))).toBe('rt_new');
    expect(enqueue).toHaveBeenCalledWith(expect.anything(), { connectionId: winner.id, tokenVersion: 2 }, expect.anything());
  });

  it('a new consent over an existing connection moves its authorized_at on (a late app_deauthorized from before it leaves it)', async () => {
    const { service, update } = setup(uniqueViolation('UQ_oauth_connections_zoom_user_account'));
    await service.storeAuthorized(input);
    const values = (update.mock.calls[0] as [unknown, Record<string, unknown>])[1];
    expect(typeof values.authorizedAt).toBe('function');
    expect((values.authorizedAt as () => string)()).toBe('now()');
  });

  it('other insert failures still fail', async () => {
    const other = uniqueViolation('PK_dd75e97352734560c9e585c057d'); // the primary key, not the user index
    const { service, update } = setup(other);
    await expect(service.storeAuthorized(input)).rejects.toBe(other);
    expect(update).not.toHaveBeenCalled();
  });
});

describe('OAuthConnectionsService: disconnect, deletions and refreshed pairs', () => {
  const cipher = new TokenCipher([{ id: 'k1', key: randomBytes(32) }]);
  const id = '6f1c1e36-8d43-4bb5-9b6c-2f1f5d2b7c01';
  const row = {
    id,
    zoomUserId: 'zu_1',
    zoomAccountId: 'za_1',
    scopes: 'user:read',
    tokenVersion: 3,
    expiresAt: new Date(),
    refreshTokenEnc: cipher.encrypt('rt-live', tokenAad(id, 'refresh_token')),
  } as OAuthConnectionEntity;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  function setup(revokeAnswer: { status: number; json?: unknown }) {
    const del = jest.fn(async () => ({ affected: 1 }));
    const update = jest.fn(async () => ({ affected: 1 }));
    const repo = {
      findOne: jest.fn(async () => row),
      update,
      manager: { transaction: async (fn: (em: unknown) => unknown) => fn({ getRepository: () => ({ delete: del }) }) },
    } as unknown as Repository<OAuthConnectionEntity>;
    const http = { send: jest.fn(async () => ({ ...revokeAnswer, headers: new Headers() })) } as unknown as ZoomHttpClient;
    const config = { get: () => ({ clientId: 'cid', clientSecret: 'secret', redirectUri: 'https://hub.example.test/cb', oauthBaseUrl: 'https://zoom.example.test' }) } as unknown as ConfigService<AppConfig, true>;
    const lease = { ttlMs: 1000, run: (_id: string, _wait: number, fn: (held: boolean) => unknown) => fn(true) } as unknown as RefreshLease;
    const stash = { clear: jest.fn(async () => undefined), find: jest.fn(async (): Promise<RefreshedPair | null> => null) };
    const rows = { deleteForZoomUser: jest.fn(async () => [{ id, zoomUserId: 'zu_1', zoomAccountId: 'za_1' }]) };
    const enqueue = jest.fn(async () => undefined);
    const service = new OAuthConnectionsService(
      repo,
      cipher,
      new ZoomOAuthClient(http, config),
      { enqueue } as unknown as JobProducer,
      { record: async () => undefined } as unknown as AppEventsService,
      rows as unknown as OAuthConnectionsRepository,
      lease,
      stash as unknown as RefreshedPairStash,
    );
    return { service, del, update, stash, rows, http };
  }

  it('a revoke refused with 400 invalid_client (the client secret was rotated) keeps the connection and answers 502 zoom_request_failed', async () => {
    const { service, del } = setup({ status: 400, json: { reason: 'Invalid client_id or client_secret', error: 'invalid_client' } });
    const err = await service.disconnect(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZoomRequestError);
    expect(err).toMatchObject({ code: 'zoom_request_failed' });
    expect(DOMAIN_ERROR_HTTP_STATUS[(err as ZoomRequestError).code]).toBe(502);
    expect(del).not.toHaveBeenCalled(); // the only copy of the live refresh token stays
  });

  it('with force=true it deletes anyway', async () => {
    const { service, del } = setup({ status: 400, json: { reason: 'Invalid client_id or client_secret', error: 'invalid_client' } });
    await expect(service.disconnect(id, { force: true })).resolves.toEqual({ revokedAtZoom: false });
    expect(del).toHaveBeenCalledWith({ id });
  });

  it('a token Zoom no longer knows (400 "Invalid Token!") counts as revoked: the row and its stashed pair go', async () => {
    const { service, del, stash } = setup({ status: 400, json: { reason: 'Invalid Token!', error: 'invalid_request' } });
    await expect(service.disconnect(id)).resolves.toEqual({ revokedAtZoom: false });
    expect(del).toHaveBeenCalledWith({ id });
    expect(stash.clear).toHaveBeenCalledWith(id);
  });

  it('revokes the refresh token of a pair waiting in the stash (the stored one is spent), not the stored one', async () => {
    const { service, stash, http } = setup({ status: 200 });
    stash.find.mockResolvedValue({ accessToken: 'at-next', refreshToken: 'rt-next', expiresInSec: 3600, scope: '' });
    await expect(service.disconnect(id)).resolves.toEqual({ revokedAtZoom: true });
    expect(stash.find).toHaveBeenCalledWith(id, 3);
    expect(http.send).toHaveBeenCalledWith(expect.objectContaining({ form: { token: 'rt-next' } }));
  });

  it('app_deauthorized deletes only consents given at or before Zoom’s deauthorization_time, and their stashed pairs', async () => {
    const { service, rows, stash } = setup({ status: 200 });
    const at = new Date('2026-12-02T09:00:00.000Z');
    await expect(service.deleteConnectionsForZoomUser('zu_1', 'za_1', at)).resolves.toBe(1);
    expect(rows.deleteForZoomUser).toHaveBeenCalledWith('zu_1', 'za_1', expect.anything(), at);
    expect(stash.clear).toHaveBeenCalledWith(id);
  });

  it('a refreshed pair expires when Zoom said: from its issue time, not from when it is stored (a pair that waited in the stash)', async () => {
    const { service, update } = setup({ status: 200 });
    const issuedAt = Date.now() - 2 * 3600_000;
    await service.storeRefreshed(row, { accessToken: 'at', refreshToken: 'rt', expiresInSec: 3600, scope: '', issuedAt });
    const values = (update.mock.calls[0] as unknown as [unknown, { expiresAt: Date }])[1];
    expect(values.expiresAt.getTime()).toBe(issuedAt + 3600_000);
  });
});
