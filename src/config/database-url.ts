const POSTGRES_URL = /^postgres(ql)?:\/\//;

/**
 * DATABASE_URL alone, for the migration commands, which must not need the rest of the
 * hub's configuration (Redis, Zoom credentials) to run.
 */
export function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.DATABASE_URL;
  if (!url || !POSTGRES_URL.test(url)) {
    throw new Error('Invalid configuration:\n  - DATABASE_URL: must be set to a postgres:// URL');
  }
  return url;
}

/**
 * Where migrations run: MIGRATION_DATABASE_URL when set, else DATABASE_URL. Behind a
 * transaction-pooling PgBouncer, DATABASE_URL points at the pooler, and migrations must
 * reach Postgres directly: they hold a session-level advisory lock (pg_advisory_lock) for
 * the whole run, which a pooler would leave on whichever server connection took it.
 */
export function migrationDatabaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.MIGRATION_DATABASE_URL;
  if (url === undefined || url === '') return databaseUrlFromEnv(env);
  if (!POSTGRES_URL.test(url)) {
    throw new Error('Invalid configuration:\n  - MIGRATION_DATABASE_URL: must be a postgres:// URL');
  }
  return url;
}
