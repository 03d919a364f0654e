import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { migrationDatabaseUrlFromEnv } from '../config/database-url';
import { loadEnvFile } from '../config/load-env-file';
import { buildDataSourceOptions } from './data-source-options';

// Used by the TypeORM CLI (npm run migration:*). It needs only MIGRATION_DATABASE_URL
// (direct to Postgres) or, when that is unset, DATABASE_URL.
loadEnvFile();
export default new DataSource(buildDataSourceOptions(migrationDatabaseUrlFromEnv(), 2));
