import type { ConfigService } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { AppConfig } from '../../../config/app.config';
import type { JobProducer } from '../../../jobs/job-producer.service';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { LivePublishMetrics } from './live-publish-metrics';

/**
 * What the publish-side specs share: a real Redis (TEST_REDIS_URL, default the local one)
 * under a random key prefix that `cleanup` deletes, the config the publishers read, and
 * fresh metrics.
 */
export function livePublishKit(live: { resumeWindowSec?: number; registryPollMs?: number } = {}) {
  const prefix = `unit-live-${randomUUID().slice(0, 8)}`;
  const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const values = { queues: { prefix }, redis: { mode: 'standalone', url }, live: { resumeWindowSec: live.resumeWindowSec ?? 300, registryPollMs: live.registryPollMs ?? 60_000 } };
  const config = { get: (key: keyof typeof values) => values[key] } as unknown as ConfigService<AppConfig, true>;
  const metrics = new LivePublishMetrics(new MetricsService({ allQueues: () => [] } as unknown as JobProducer));
  const metricValue = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const all = [metrics.published, metrics.bytes, metrics.errors, metrics.textBuffered];
    for (const m of all) {
      const data = await m.get();
      if (data.name !== name) continue;
      return data.values.filter((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, string | number | undefined>)[k] === l)).reduce((n, v) => n + v.value, 0);
    }
    return 0;
  };
  const cleanup = async (): Promise<void> => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  };
  return { prefix, redis, config, metrics, metricValue, cleanup };
}
