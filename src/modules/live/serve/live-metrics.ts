import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { LIVE_MEDIA, LiveMedia } from '../live-protocol';

export type LiveTransportKind = 'ws' | 'sse';

/** Why a live client went away (the `reason` label). */
export type LiveCloseReason = 'client' | 'too_slow' | 'ping_timeout' | 'protocol_error' | 'shutdown' | 'error' | 'login_ended';

interface PerMedia {
  messages: Counter.Internal;
  bytes: Counter.Internal;
  dropped: Counter.Internal;
  latency: Histogram.Internal<'media'>;
}

/**
 * The live fan-out's metrics, with the per-media children bound once: the media path
 * counts per pub/sub message, and a labelled lookup per frame would cost more than the
 * send.
 */
@Injectable()
export class LiveMetrics {
  private readonly clients: Gauge<'transport'>;
  readonly subscriptions: Gauge;
  private readonly closed: Counter<'reason'>;
  private readonly perMedia = new Map<LiveMedia, PerMedia>();

  constructor(metrics: MetricsService) {
    this.clients = metrics.gauge({ name: 'rtms_hub_live_clients', help: 'Live clients connected to this process', labelNames: ['transport'] });
    this.subscriptions = metrics.gauge({ name: 'rtms_hub_live_subscriptions', help: 'Live subscriptions held by this process' });
    this.closed = metrics.counter({ name: 'rtms_hub_live_clients_closed_total', help: 'Live clients that went away, by reason', labelNames: ['reason'] });
    const messages = metrics.counter({ name: 'rtms_hub_live_messages_sent_total', help: 'Live messages (text entries, media frames) written to clients', labelNames: ['media'] });
    const bytes = metrics.counter({ name: 'rtms_hub_live_bytes_sent_total', help: 'Bytes of live messages written to clients', labelNames: ['media'] });
    const dropped = metrics.counter({ name: 'rtms_hub_live_media_dropped_total', help: 'Media frames dropped for clients whose buffer was full', labelNames: ['media'] });
    const latency = metrics.histogram({
      name: 'rtms_hub_live_delivery_latency_seconds',
      help: "Zoom's timestamp of a live message to its write to a client socket",
      labelNames: ['media'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5],
    });
    for (const media of LIVE_MEDIA) {
      this.perMedia.set(media, { messages: messages.labels(media), bytes: bytes.labels(media), dropped: dropped.labels(media), latency: latency.labels(media) });
    }
  }

  clientOpened(transport: LiveTransportKind): void {
    this.clients.inc({ transport });
  }

  clientClosed(transport: LiveTransportKind, reason: LiveCloseReason): void {
    this.clients.dec({ transport });
    this.closed.inc({ reason });
  }

  sent(media: LiveMedia, messages: number, bytes: number): void {
    const m = this.perMedia.get(media)!;
    m.messages.inc(messages);
    m.bytes.inc(bytes);
  }

  dropped(media: LiveMedia, frames: number): void {
    this.perMedia.get(media)!.dropped.inc(frames);
  }

  latency(media: LiveMedia, zoomTimestampMs: number, nowMs: number): void {
    // A clock skew between Zoom and us must not produce negative observations.
    this.perMedia.get(media)!.latency.observe(Math.max(0, nowMs - zoomTimestampMs) / 1000);
  }
}
