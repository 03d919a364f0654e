import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { runMigrations } from '../src/database/migrate';

/** Runs every committed migration on an empty database, then reverts them all. */
describe('migrations', () => {
  // Direct to Postgres, as `npm run migrate` is (MIGRATION_DATABASE_URL): the suite may run through PgBouncer.
  const base = new URL((process.env.MIGRATION_DATABASE_URL || process.env.DATABASE_URL) as string);
  const dbName = `${base.pathname.slice(1)}_migrations`;
  const url = new URL(base.toString());
  url.pathname = `/${dbName}`;

  async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const u = new URL(base.toString());
    u.pathname = '/postgres';
    const client = new Client({ connectionString: u.toString() });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    await admin(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS "${dbName}"`);
      await c.query(`CREATE DATABASE "${dbName}"`);
    });
  });

  afterAll(async () => {
    await admin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}"`));
  });

  async function tables(ds: DataSource): Promise<string[]> {
    const rows: Array<{ table_name: string }> = await ds.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    return rows.map((r) => r.table_name);
  }

  it('apply on an empty database, leave nothing pending, and revert cleanly', async () => {
    const applied = await runMigrations(url.toString(), () => undefined);
    expect(applied.length).toBeGreaterThan(0);
    // A second run is a no-op.
    expect(await runMigrations(url.toString(), () => undefined)).toEqual([]);

    const ds = new DataSource(buildDataSourceOptions(url.toString(), 1));
    await ds.initialize();
    try {
      expect(await tables(ds)).toEqual(expect.arrayContaining(['sessions', 'rtms_streams', 'session_events', 'participants', 'typeorm_migrations']));
      // The entities and the migrations agree: nothing left for a new migration to do.
      const pending = await ds.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);

      for (let i = 0; i < applied.length; i++) await ds.undoLastMigration({ transaction: 'each' });
      expect(await tables(ds)).toEqual(['typeorm_migrations']);
      const remaining: Array<{ n: string }> = await ds.query('SELECT count(*)::text AS n FROM typeorm_migrations');
      expect(remaining[0].n).toBe('0');
    } finally {
      await ds.destroy();
    }
  });
});
