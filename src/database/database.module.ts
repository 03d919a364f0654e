import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app.config';
import { AfterCommit } from './after-commit';
import { buildDataSourceOptions } from './data-source-options';

/** The connection pool, and AfterCommit (work that must wait for a transaction to commit) for every module. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const db = config.get('database', { infer: true });
        return { ...buildDataSourceOptions(db.url, db.poolSize), retryAttempts: 3, retryDelay: 1000 };
      },
    }),
  ],
  providers: [AfterCommit],
  exports: [AfterCommit],
})
export class DatabaseModule {}
