import { Controller, Get, Header } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '../auth/require-role.decorator';
import { MetricsService } from './metrics.service';

/** Prometheus scrape endpoint; needs an API key (Prometheus `authorization` bearer). */
@ApiTags('ops')
@ApiSecurity('api-key')
// Counts cover every owner's sessions.
@RequireRole('read', { everyOwner: true })
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  async scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
