import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { OAuthConnectionsRepository } from '../src/modules/oauth/repositories/oauth-connections.repository';

/** The oauth repository against the real, migrated Postgres. */
describe('oauth repository (Postgres)', () => {
  let ds: DataSource;
  let rows: OAuthConnectionsRepository;

  const insert = async (zoomUserId: string, zoomAccountId: string): Promise<string> => {
    const id = randomUUID();
    await ds.query(
      `INSERT INTO oauth_connections (id, zoom_user_id, zoom_account_id, access_token_enc, refresh_token_enc, key_id, scopes, expires_at, token_version)
       VALUES ($1, $2, $3, 'x', 'y', 'k', '', now() + interval '1 hour', 1)`,
      [id, zoomUserId, zoomAccountId],
    );
    return id;
  };

  beforeAll(async () => {
    ds = await new DataSource(buildDataSourceOptions(process.env.DATABASE_URL ?? '', 2)).initialize();
    rows = new OAuthConnectionsRepository(ds);
  });

  afterAll(async () => {
    await ds.destroy();
  });

  it("deleteForZoomUser removes the user's connections (of one account when given) and says which", async () => {
    const user = `u-${randomUUID().slice(0, 8)}`;
    const [a1, a2] = [await insert(user, 'acct-1'), await insert(user, 'acct-2')];
    const other = await insert(`${user}-other`, 'acct-1');

    expect(await rows.deleteForZoomUser(user, 'acct-1')).toEqual([{ id: a1, zoomUserId: user, zoomAccountId: 'acct-1' }]);
    expect(await rows.deleteForZoomUser(user, undefined)).toEqual([{ id: a2, zoomUserId: user, zoomAccountId: 'acct-2' }]);
    expect(await rows.deleteForZoomUser(user, undefined)).toEqual([]);
    expect(await ds.query(`SELECT id FROM oauth_connections WHERE id = $1`, [other])).toHaveLength(1);
  });

  it("runs in the caller's transaction", async () => {
    const user = `u-${randomUUID().slice(0, 8)}`;
    const id = await insert(user, 'acct-1');
    await ds
      .transaction(async (em) => {
        expect(await rows.deleteForZoomUser(user, undefined, em)).toHaveLength(1);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(await ds.query(`SELECT id FROM oauth_connections WHERE id = $1`, [id])).toHaveLength(1);
  });
});
