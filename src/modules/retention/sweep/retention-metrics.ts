import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { AppConfig } from '../../../config/app.config';
import { RETENTION_CATEGORIES, RetentionCategory, SessionRetentionService } from '../../sessions';
import { effectiveDays } from './retention-policy';
import { RetentionRunStats, RetentionStatsStore } from './retention-stats';

const CACHE_MS = 5000;

/**
 * The retention gauges (docs/operations.md), served by the processes that run the sweep
 * (the `maintenance` workers): the last sweep (hub-wide, from Redis), what is stored under
 * retention, and how long the longest-waiting expired data has been waiting.
 */
@Injectable()
export class RetentionMetrics {
  private lastCache?: { at: number; value: Promise<RetentionRunStats | null> };
  private overdueCache?: { at: number; value: Promise<Record<RetentionCategory, number>> };

  constructor(
    metrics: MetricsService,
    private readonly stats: RetentionStatsStore,
    private readonly sessions: SessionRetentionService,
    private readonly config: ConfigService<AppConfig, true>,
  ) {
    const last = () => this.last();
    const lastGauge = (name: string, help: string, pick: (s: RetentionRunStats) => number) =>
      metrics.gauge({
        name,
        help,
        async collect() {
          const s = await last();
          if (s) this.set(pick(s));
        },
      });
    lastGauge('rtms_hub_retention_last_run_success', '1 when the last retention sweep finished, 0 when it failed', (s) => (s.success ? 1 : 0));
    lastGauge('rtms_hub_retention_last_run_duration_seconds', 'How long the last retention sweep took', (s) => s.durationMs / 1000);
    lastGauge('rtms_hub_retention_last_run_timestamp_seconds', 'When the last retention sweep ended (Unix time)', (s) => (s.finishedAt ? Date.parse(s.finishedAt) / 1000 : 0));
    lastGauge('rtms_hub_retention_last_run_purged_objects', 'Stored objects the last retention sweep deleted', (s) => s.objects);
    lastGauge('rtms_hub_retention_last_run_purged_bytes', 'Bytes of stored objects the last retention sweep deleted', (s) => s.bytes);
    lastGauge('rtms_hub_retention_last_run_purged_rows', 'Database rows the last retention sweep deleted', (s) => s.rows);
    lastGauge('rtms_hub_retention_last_run_purges', 'Session categories the last retention sweep purged (one deletion_log entry each)', (s) => s.sessions);
    for (const [unit, pick] of [
      ['objects', (t: { objects: number }) => t.objects],
      ['bytes', (t: { bytes: number }) => t.bytes],
    ] as const) {
      metrics.gauge({
        name: `rtms_hub_retention_stored_${unit}`,
        help: `Stored ${unit} of media kept under retention (sessions not on hold), by category, as of the last sweep`,
        labelNames: ['category'],
        async collect() {
          const s = await last();
          if (!s?.stored) return;
          for (const [category, totals] of Object.entries(s.stored)) this.set({ category }, pick(totals));
        },
      });
    }
    const overdue = () => this.overdue();
    metrics.gauge({
      name: 'rtms_hub_retention_overdue_seconds',
      help: 'How long the longest-expired, not yet purged data of an unheld session has been waiting, by category (0: none)',
      labelNames: ['category'],
      async collect() {
        const o = await overdue().catch(() => null);
        if (!o) return;
        for (const category of RETENTION_CATEGORIES) this.set({ category }, o[category]);
      },
    });
  }

  private last(): Promise<RetentionRunStats | null> {
    if (!this.lastCache || Date.now() - this.lastCache.at > CACHE_MS) this.lastCache = { at: Date.now(), value: this.stats.last().catch(() => null) };
    return this.lastCache.value;
  }

  private overdue(): Promise<Record<RetentionCategory, number>> {
    if (!this.overdueCache || Date.now() - this.overdueCache.at > CACHE_MS) {
      const value = this.measureOverdue();
      this.overdueCache = { at: Date.now(), value };
      value.catch(() => (this.overdueCache = undefined));
    }
    return this.overdueCache.value;
  }

  private async measureOverdue(): Promise<Record<RetentionCategory, number>> {
    const defaults = this.config.get('retention', { infer: true });
    const now = Date.now();
    const out = {} as Record<RetentionCategory, number>;
    for (const category of RETENTION_CATEGORIES) {
      const [oldest] = await this.sessions.findDue(category, effectiveDays(null, defaults, category), 1);
      out[category] = oldest ? Math.max(0, (now - oldest.expiredAt.getTime()) / 1000) : 0;
    }
    return out;
  }
}
