import { Injectable } from '@nestjs/common';

/** What a non-critical readiness check reports: `up`, or `down` with details. */
export interface ReadinessCheckResult {
  status: 'up' | 'down';
  [detail: string]: unknown;
}

/**
 * Readiness checks that modules add (e.g. media storage) next to the core ones (Postgres,
 * Redis). They are not critical: one that is down makes `/health/ready` answer
 * `status: "degraded"` with 200, because the process still does its core work — an API
 * process keeps accepting Zoom webhooks while storage is down, so it must stay in its
 * load balancer. Each check does its own caching and must not throw.
 */
@Injectable()
export class ReadinessChecks {
  private readonly checks = new Map<string, () => Promise<ReadinessCheckResult>>();

  register(name: string, check: () => Promise<ReadinessCheckResult>): void {
    this.checks.set(name, check);
  }

  async run(): Promise<Record<string, ReadinessCheckResult>> {
    const out: Record<string, ReadinessCheckResult> = {};
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          out[name] = await check();
        } catch (err) {
          out[name] = { status: 'down', message: err instanceof Error ? err.message : 'check failed' };
        }
      }),
    );
    return out;
  }
}
