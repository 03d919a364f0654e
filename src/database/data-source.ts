import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { databaseUrlFromEnv } from '../config/database-url';
import { loadEnvFile } from '../config/load-env-file';
import { buildDataSourceOptions } from './data-source-options';

// Used by the TypeORM CLI (npm run migration:*). It needs only DATABASE_URL.
loadEnvFile();
export default new DataSource(buildDataSourceOptions(databaseUrlFromEnv(), 2));
