/**
 * DATABASE_URL alone, for the migration commands, which must not need the rest of the
 * hub's configuration (Redis, Zoom credentials) to run.
 */
export function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.DATABASE_URL;
  if (!url || !/^postgres(ql)?:\/\//.test(url)) {
    throw new Error('Invalid configuration:\n  - DATABASE_URL: must be set to a postgres:// URL');
  }
  return url;
}
