import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { AuthenticatedBy } from '../auth/public.decorator';
import { isRecord } from '../types/is-record';
import { ReadinessChecks } from './readiness-checks';
import { RedisHealthIndicator } from './redis.health';

/**
 * Probes for orchestrators. They reveal only up/down per dependency (and, for storage,
 * how much media waits for it), so they are open to the probe (no credentials), as load
 * balancers and kubelets expect.
 */
@ApiTags('ops')
@AuthenticatedBy('probe')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly extra: ReadinessChecks,
  ) {}

  /** The process is running and its event loop answers. */
  @Get('live')
  live() {
    return { status: 'ok' };
  }

  /**
   * Postgres and Redis both answer (503 otherwise). Module checks (storage) that are down
   * make it `status: "degraded"`, still 200: the process keeps doing its core work.
   */
  @Get('ready')
  @HealthCheck()
  async ready() {
    const [core, extra] = await Promise.all([
      this.health
        .check([() => this.db.pingCheck('database', { timeout: 1500 }), () => this.redis.isHealthy('redis')])
        .then((r) => ({ ok: true as const, result: r }))
        .catch((err: unknown) => ({ ok: false as const, err })),
      this.extra.run(),
    ]);
    if (!core.ok) {
      const response = core.err instanceof ServiceUnavailableException ? core.err.getResponse() : undefined;
      if (!isRecord(response) || !isRecord(response.details)) throw core.err;
      throw new ServiceUnavailableException({ ...response, details: { ...response.details, ...extra } });
    }
    const result: HealthCheckResult = core.result;
    const down = Object.entries(extra).filter(([, r]) => r.status === 'down');
    const up = Object.entries(extra).filter(([, r]) => r.status !== 'down');
    return {
      status: down.length > 0 ? 'degraded' : result.status,
      info: { ...result.info, ...Object.fromEntries(up) },
      error: { ...result.error, ...Object.fromEntries(down) },
      details: { ...result.details, ...extra },
    };
  }
}
