import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { ReadinessChecks } from './readiness-checks';
import { RedisHealthIndicator } from './redis.health';

/** Global so feature modules can add their readiness checks (ReadinessChecks.register). */
@Global()
@Module({
  imports: [TerminusModule.forRoot({ logger: false, errorLogStyle: 'json' })],
  controllers: [HealthController],
  providers: [RedisHealthIndicator, ReadinessChecks],
  exports: [ReadinessChecks],
})
export class HealthModule {}
