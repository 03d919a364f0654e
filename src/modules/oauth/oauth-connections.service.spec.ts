import { randomBytes } from 'node:crypto';
import { QueryFailedError, Repository } from 'typeorm';
import { TokenCipher } from '../../common/crypto/token-cipher';
import { JobProducer } from '../../jobs/job-producer.service';
import { RefreshLease } from '../../zoom/auth/refresh-lease';
import { ZoomOAuthClient } from '../../zoom/auth/zoom-oauth.client';
import { AppEventsService } from '../app-events';
import { ConnectionStatus, OAuthConnectionEntity } from './entities/oauth-connection.entity';
import { OAuthConnectionsService, StoreConnectionInput } from './oauth-connections.service';
import { OAuthConnectionsRepository } from './repositories/oauth-connections.repository';
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

  it('other insert failures still fail', async () => {
    const other = uniqueViolation('PK_dd75e97352734560c9e585c057d'); // the primary key, not the user index
    const { service, update } = setup(other);
    await expect(service.storeAuthorized(input)).rejects.toBe(other);
    expect(update).not.toHaveBeenCalled();
  });
});
