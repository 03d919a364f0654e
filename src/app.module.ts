import { DynamicModule, Module, Type } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { AdminModule } from './admin/bull-board.module';
import { ApiKeyGuard } from './common/auth/api-key.guard';
import { ConsoleSessionsModule } from './common/auth/console-sessions.service';
import { CryptoModule } from './common/crypto/crypto.module';
import { AllExceptionsFilter } from './common/errors/all-exceptions.filter';
import { HealthModule } from './common/health/health.module';
import { LoggingModule } from './common/logging/logging.module';
import { MetricsController } from './common/metrics/metrics.controller';
import { MetricsModule } from './common/metrics/metrics.module';
import { RedisModule } from './common/redis/redis.module';
import { AdminLoginModule } from './common/auth/admin-login-throttle';
import { appConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { JobsModule } from './jobs/jobs.module';
import { QueueName } from './jobs/queue-names';
import { API_MODULES } from './api-modules';
import { ProcessorRegistration } from './worker/processor-registration';
import { WorkerModule } from './worker/worker.module';

export interface AppModuleOptions {
  /** Serve the app-facing API, webhooks, OAuth and Bull Board. */
  api: boolean;
  /** Consume these queues (omit for none). */
  worker?: { queues: QueueName[]; explicit: boolean; registrations?: ProcessorRegistration[] };
}

/** Ops endpoints every process serves: health, metrics (and for workers, nothing else). */
@Module({ imports: [HealthModule], controllers: [MetricsController] })
class OpsModule {}

/**
 * One build, three roles: API only, worker only, or both in one process. The role
 * decides which modules load; only WorkerModule registers processors.
 */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    const imports: Array<Type<unknown> | DynamicModule | Promise<DynamicModule>> = [
      appConfigModule(),
      LoggingModule,
      DatabaseModule,
      RedisModule,
      AdminLoginModule,
      ConsoleSessionsModule,
      CryptoModule,
      JobsModule,
      MetricsModule,
      OpsModule,
    ];
    if (options.api) imports.push(AdminModule, ...API_MODULES);
    if (options.worker) imports.push(WorkerModule.forRoot(options.worker));
    return {
      module: AppModule,
      imports,
      providers: [
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
      ],
    };
  }
}
