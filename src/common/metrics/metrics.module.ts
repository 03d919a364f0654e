import { Global, Module } from '@nestjs/common';
import { MetricsService } from './metrics.service';

/** The registry is global so any module (API or worker) can add its metrics. */
@Global()
@Module({ providers: [MetricsService], exports: [MetricsService] })
export class MetricsModule {}
