import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MetricsService } from '../../common/metrics/metrics.service';

type Tally = Map<string, { messages: number; bytes: number }>;

/** Each registry's tally of media received (shared by its IngestMetrics: the counters are get-or-create). */
const TALLIES = new WeakMap<Registry, Tally>();

/** A counter's collect(): adds what was tallied since it was last read. */
function collectTally(tally: Tally, field: 'messages' | 'bytes'): (this: Counter<'media_type'>) => void {
  return function (this: Counter<'media_type'>) {
    for (const [mediaType, counts] of tally) {
      if (counts[field] > 0) this.inc({ media_type: mediaType }, counts[field]);
      counts[field] = 0;
    }
  };
}

/** Prometheus metrics of the stream workers. */
@Injectable()
export class IngestMetrics {
  readonly activeStreams: Gauge;
  readonly handshakes: Counter<'socket' | 'result'>;
  readonly keepAliveReply: Histogram<'socket'>;
  readonly keepAlives: Counter<'socket'>;
  readonly reconnects: Counter<'cause'>;
  readonly messages: Counter<'media_type'>;
  readonly bytes: Counter<'media_type'>;
  /**
   * Media received since the counters were last read, per media type. Every audio packet
   * is counted, so the hot path adds to plain numbers; the counters take them when scraped
   * (their collect), instead of hashing labels twice per message.
   */
  private readonly received: Tally;
  readonly invalid: Counter<'reason'>;
  readonly oversizeCloses: Counter<'socket'>;
  readonly filtered: Counter<'media_type'>;
  readonly batches: Counter<'job'>;
  readonly streamEnds: Counter<'outcome'>;
  readonly textArrivalDelay: Histogram<'media_type'>;

  constructor(metrics: MetricsService) {
    this.activeStreams = metrics.gauge({ name: 'rtms_hub_streams_active', help: 'RTMS streams held by this process' });
    this.handshakes = metrics.counter({ name: 'rtms_hub_rtms_handshakes_total', help: 'RTMS handshakes by socket and result (ok or the status name)', labelNames: ['socket', 'result'] });
    this.keepAliveReply = metrics.histogram({
      name: 'rtms_hub_keepalive_reply_seconds',
      help: 'Time from a KEEP_ALIVE_REQ arriving to its answer being sent',
      labelNames: ['socket'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
    });
    this.keepAlives = metrics.counter({ name: 'rtms_hub_keepalives_answered_total', help: 'KEEP_ALIVE_REQ answered', labelNames: ['socket'] });
    this.reconnects = metrics.counter({ name: 'rtms_hub_stream_reconnects_total', help: 'Stream reconnects by case', labelNames: ['cause'] });
    this.received = TALLIES.get(metrics.registry) ?? new Map();
    TALLIES.set(metrics.registry, this.received);
    this.messages = metrics.counter({ name: 'rtms_hub_media_messages_total', help: 'Media messages received by media type', labelNames: ['media_type'], collect: collectTally(this.received, 'messages') });
    this.bytes = metrics.counter({ name: 'rtms_hub_media_bytes_total', help: 'Media message bytes received by media type', labelNames: ['media_type'], collect: collectTally(this.received, 'bytes') });
    this.invalid = metrics.counter({ name: 'rtms_hub_rtms_messages_invalid_total', help: 'RTMS messages dropped as malformed, by reason', labelNames: ['reason'] });
    this.oversizeCloses = metrics.counter({ name: 'rtms_hub_rtms_oversize_closes_total', help: 'RTMS sockets closed (1009) for a message over the size limit; they reconnect', labelNames: ['socket'] });
    this.filtered = metrics.counter({ name: 'rtms_hub_media_items_filtered_total', help: 'Media items the capture policy dropped', labelNames: ['media_type'] });
    this.batches = metrics.counter({ name: 'rtms_hub_media_batches_total', help: 'Media batch jobs enqueued', labelNames: ['job'] });
    this.streamEnds = metrics.counter({ name: 'rtms_hub_stream_jobs_ended_total', help: 'Stream jobs ended, by outcome', labelNames: ['outcome'] });
    // What the hub cannot do better than: how late transcript and chat reach this worker
    // after Zoom's timestamp (live delivery's latency starts here; audio is not observed, it is the hot path).
    this.textArrivalDelay = metrics.histogram({
      name: 'rtms_hub_text_arrival_delay_seconds',
      help: 'Zoom timestamp to receipt by the stream worker, transcript and chat',
      labelNames: ['media_type'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 2.5],
    });
  }

  /** One media message received (rtms_hub_media_messages_total / _bytes_total, added when read). */
  mediaReceived(mediaType: string, bytes: number): void {
    let r = this.received.get(mediaType);
    if (!r) {
      r = { messages: 0, bytes: 0 };
      this.received.set(mediaType, r);
    }
    r.messages += 1;
    r.bytes += bytes;
  }
}
