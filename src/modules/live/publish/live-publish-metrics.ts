import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../../../common/metrics/metrics.service';

export type LivePublishErrorKind = 'text' | 'text_dropped' | 'app_event' | 'media' | 'registry';

/** Prometheus metrics of the live publishing side (stream workers and the app-event fan-out). */
@Injectable()
export class LivePublishMetrics {
  readonly published: Counter<'media'>;
  readonly bytes: Counter<'media'>;
  readonly errors: Counter<'kind'>;
  readonly textBuffered: Gauge;

  constructor(metrics: MetricsService) {
    this.published = metrics.counter({ name: 'rtms_hub_live_published_total', help: 'Live text entries appended and media frames published, by media', labelNames: ['media'] });
    this.bytes = metrics.counter({ name: 'rtms_hub_live_publish_bytes_total', help: 'Bytes of live text entries (JSON) and media frames (header included) sent to Redis, by media', labelNames: ['media'] });
    this.errors = metrics.counter({
      name: 'rtms_hub_live_publish_errors_total',
      help: 'Live publishing failures: text (a failed write, retried), text_dropped (entries lost to the buffer cap or refused by Redis), app_event, media (frames dropped), registry (a failed registry read)',
      labelNames: ['kind'],
    });
    this.textBuffered = metrics.gauge({ name: 'rtms_hub_live_text_buffered', help: 'Live text entries waiting to be written to Redis (after a Redis failure)' });
  }
}
