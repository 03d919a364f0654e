import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { migrationDatabaseUrlFromEnv } from '../config/database-url';
import { loadEnvFile } from '../config/load-env-file';
import { buildDataSourceOptions } from './data-source-options';

/** Stable key for pg_advisory_lock so two migrate runs never race. */
const MIGRATION_LOCK_KEY = 724_115_001;

/**
 * Runs pending migrations once, under a Postgres advisory lock. The compose file runs
 * this as a one-shot service; API and worker processes never migrate.
 *
 * The lock is session-level (it must span every migration's own transaction), so
 * `databaseUrl` must reach Postgres directly, never through a transaction-pooling
 * PgBouncer: the `migrate` command reads MIGRATION_DATABASE_URL for that.
 */
export async function runMigrations(databaseUrl: string, log: (msg: string) => void = console.log): Promise<string[]> {
  const dataSource = new DataSource(buildDataSourceOptions(databaseUrl, 1));
  await dataSource.initialize();
  try {
    await dataSource.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      const names = applied.map((m) => m.name);
      log(names.length ? `Applied migrations: ${names.join(', ')}` : 'Database schema is up to date');
      return names;
    } finally {
      await dataSource.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await dataSource.destroy();
  }
}

if (require.main === module) {
  loadEnvFile();
  runMigrations(migrationDatabaseUrlFromEnv()).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('Migration failed:', err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
