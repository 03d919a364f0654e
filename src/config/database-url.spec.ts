import { databaseUrlFromEnv, migrationDatabaseUrlFromEnv } from './database-url';

describe('database URLs for the migration commands', () => {
  const pooled = 'postgres://hub@pgbouncer:6432/rtms_hub';
  const direct = 'postgres://hub@postgres:5432/rtms_hub';

  it('DATABASE_URL must be a postgres:// URL', () => {
    expect(databaseUrlFromEnv({ DATABASE_URL: pooled })).toBe(pooled);
    expect(() => databaseUrlFromEnv({})).toThrow('DATABASE_URL: must be set to a postgres:// URL');
    expect(() => databaseUrlFromEnv({ DATABASE_URL: 'mysql://x' })).toThrow('DATABASE_URL');
  });

  it('migrations use MIGRATION_DATABASE_URL (direct to Postgres) over a pooled DATABASE_URL', () => {
    expect(migrationDatabaseUrlFromEnv({ DATABASE_URL: pooled, MIGRATION_DATABASE_URL: direct })).toBe(direct);
  });

  it('migrations fall back to DATABASE_URL when MIGRATION_DATABASE_URL is unset or empty', () => {
    expect(migrationDatabaseUrlFromEnv({ DATABASE_URL: direct })).toBe(direct);
    expect(migrationDatabaseUrlFromEnv({ DATABASE_URL: direct, MIGRATION_DATABASE_URL: '' })).toBe(direct);
  });

  it('a MIGRATION_DATABASE_URL that is not postgres:// is refused, naming the variable', () => {
    expect(() => migrationDatabaseUrlFromEnv({ DATABASE_URL: direct, MIGRATION_DATABASE_URL: 'http://x' })).toThrow('MIGRATION_DATABASE_URL: must be a postgres:// URL');
  });
});
