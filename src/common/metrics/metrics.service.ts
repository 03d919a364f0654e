import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, CounterConfiguration, Gauge, GaugeConfiguration, Histogram, HistogramConfiguration, Registry } from 'prom-client';
import { JobProducer } from '../../jobs/job-producer.service';
import { QUEUE_STATES, QueueJobCounts } from './queue-job-counts';

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
    const counts = new QueueJobCounts();
    new Gauge({
      name: 'rtms_hub_queue_jobs',
      help: 'Jobs per BullMQ queue and state',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        const queues = producer.allQueues();
        const read = await counts.read(queues);
        queues.forEach((queue, i) => {
          // No answer (Redis unreachable): leave the last values; readiness reports the outage.
          const c = read[i];
          if (c) for (const state of QUEUE_STATES) this.set({ queue: queue.name, state }, c[state] ?? 0);
        });
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
