import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, CounterConfiguration, Gauge, GaugeConfiguration, Histogram, HistogramConfiguration, Registry } from 'prom-client';
import { JobProducer } from '../../jobs/job-producer.service';

/**
 * The process's Prometheus registry: process metrics, per-queue job counts, and the
 * counters/histograms other modules create through it (get-or-create, so a module can
 * ask for its metric in a constructor without double registration).
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  constructor(producer: JobProducer) {
    collectDefaultMetrics({ register: this.registry, prefix: 'rtms_hub_' });
    const states = ['waiting', 'active', 'delayed', 'failed', 'completed', 'paused'] as const;
    new Gauge({
      name: 'rtms_hub_queue_jobs',
      help: 'Jobs per BullMQ queue and state',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        await Promise.all(
          producer.allQueues().map(async (queue) => {
            try {
              const counts = await queue.getJobCounts(...states);
              for (const state of states) this.set({ queue: queue.name, state }, counts[state] ?? 0);
            } catch {
              // Redis unreachable: leave the last values; readiness reports the outage.
            }
          }),
        );
      },
    });
  }

  counter<T extends string>(config: CounterConfiguration<T>): Counter<T> {
    return (this.registry.getSingleMetric(config.name) as Counter<T>) ?? new Counter({ ...config, registers: [this.registry] });
  }

  gauge<T extends string>(config: GaugeConfiguration<T>): Gauge<T> {
    return (this.registry.getSingleMetric(config.name) as Gauge<T>) ?? new Gauge({ ...config, registers: [this.registry] });
  }

  histogram<T extends string>(config: HistogramConfiguration<T>): Histogram<T> {
    return (this.registry.getSingleMetric(config.name) as Histogram<T>) ?? new Histogram({ ...config, registers: [this.registry] });
  }
}
