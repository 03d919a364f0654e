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

  it('deleteForZoomUser with a deauthorization time leaves connections authorized after it', async () => {
    const user = `u-${randomUUID().slice(0, 8)}`;
    const [before, after] = [await insert(user, 'acct-1'), await insert(user, 'acct-2')];
    await ds.query(`UPDATE oauth_connections SET authorized_at = $2 WHERE id = $1`, [before, new Date('2026-12-01T10:00:00Z')]);
    await ds.query(`UPDATE oauth_connections SET authorized_at = $2 WHERE id = $1`, [after, new Date('2026-12-01T10:00:01Z')]);

    expect(await rows.deleteForZoomUser(user, undefined, undefined, new Date('2026-12-01T10:00:00Z'))).toEqual([{ id: before, zoomUserId: user, zoomAccountId: 'acct-1' }]);
    expect(await ds.query(`SELECT id FROM oauth_connections WHERE id = $1`, [after])).toHaveLength(1);
    expect(await rows.deleteForZoomUser(user, undefined)).toEqual([{ id: after, zoomUserId: user, zoomAccountId: 'acct-2' }]);
  });

  it('a new row is authorized now (the column default)', async () => {
    const id = await insert(`u-${randomUUID().slice(0, 8)}`, 'acct-1');
    const [{ age }] = await ds.query(`SELECT extract(epoch FROM now() - authorized_at)::float AS age FROM oauth_connections WHERE id = $1`, [id]);
    expect(Math.abs(age as number)).toBeLessThan(60);
  });

  it('findActiveExpiringBefore pages through active connections whose token runs out before the given time', async () => {
    await ds.query(`DELETE FROM oauth_connections`);
    const user = `u-${randomUUID().slice(0, 8)}`;
    const due = [await insert(user, 'a1'), await insert(user, 'a2'), await insert(user, 'a3')].sort();
    const later = await insert(user, 'a4');
    const inactive = await insert(user, 'a5');
    await ds.query(`UPDATE oauth_connections SET expires_at = now() - interval '3 days' WHERE id = ANY($1)`, [due]);
    await ds.query(`UPDATE oauth_connections SET expires_at = now() - interval '1 hour', status = 'reauthorization_required' WHERE id = $1`, [inactive]);
    const before = new Date(Date.now() + 5 * 60_000);

    const first = await rows.findActiveExpiringBefore(before, null, 2);
    expect(first.map((c) => c.id)).toEqual(due.slice(0, 2));
    expect(first[0]).toMatchObject({ tokenVersion: 1, expiresAt: expect.any(Date) });
    expect((await rows.findActiveExpiringBefore(before, first[1].id, 2)).map((c) => c.id)).toEqual(due.slice(2));
    expect((await rows.findActiveExpiringBefore(before, null, 10)).map((c) => c.id)).not.toContain(later);
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
