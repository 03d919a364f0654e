import { Client } from 'pg';
import { runMigrations } from '../src/database/migrate';
import { startPgBouncer } from './utils/pgbouncer';
import { PGBOUNCER_GLOBAL } from './global-teardown';

/**
 * Once per e2e run: make sure the test database exists, empty it, and apply the real
 * migrations (never synchronize). With TEST_VIA_PGBOUNCER=1 (`npm run test:e2e:pgbouncer`)
 * it then starts a PgBouncer in transaction mode in front of that database, and every test
 * file's DATABASE_URL goes through it (test/setup-env.ts); migrations stay direct.
 */
export default async function globalSetup(): Promise<void> {
  const url = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/rtms_hub_test');
  const dbName = url.pathname.slice(1);
  const admin = new URL(url.toString());
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${dbName.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
  const db = new Client({ connectionString: url.toString() });
  await db.connect();
  try {
    await db.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  } finally {
    await db.end();
  }
  await runMigrations(url.toString(), () => undefined);

  if (process.env.TEST_VIA_PGBOUNCER === '1') {
    const bouncer = await startPgBouncer({ target: url.toString(), poolSize: Number(process.env.TEST_PGBOUNCER_POOL_SIZE ?? 20) });
    (globalThis as Record<string, unknown>)[PGBOUNCER_GLOBAL] = bouncer;
    // Test files start after this, and their process.env is copied from this one.
    process.env.TEST_PGBOUNCER_URL = bouncer.url;
    console.log(`\nE2E through PgBouncer (transaction mode) on ${bouncer.url}, log ${bouncer.logFile}`);
  }
}
