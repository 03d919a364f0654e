import { join } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities';

/**
 * The one set of TypeORM options, shared by the Nest app, the migration CLI and the
 * `migrate` command. Migrations live in /migrations: .ts under ts-node/jest, .js in dist.
 * synchronize and migrationsRun are always off: schema changes go through migrations.
 */
export function buildDataSourceOptions(url: string, poolSize = 10): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: [join(__dirname, '..', '..', 'migrations', '*.{ts,js}')],
    migrationsTableName: 'typeorm_migrations',
    // Each migration in its own transaction, as `npm run migrate` runs them, so the CLI takes
    // a migration that must run outside one (CREATE INDEX CONCURRENTLY: `transaction = false`).
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    // gen_random_uuid() is built into PostgreSQL 13+, so no extension is needed.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    extra: { max: poolSize },
  };
}
