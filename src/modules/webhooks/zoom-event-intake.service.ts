import { Injectable, Logger } from '@nestjs/common';
import { WebhookErrorCode } from '../../common/errors/error-codes';
import { WebhooksError } from './webhooks.errors';
import { ConfigService } from '@nestjs/config';
import { Counter } from 'prom-client';
import { MetricsService } from '../../common/metrics/metrics.service';
import { AppConfig } from '../../config/app.config';
import { RTMS_STARTED_EVENTS, CONCURRENCY_EVENTS, RTMS_STOPPED_EVENTS, RTMS_INTERRUPTED_EVENTS, APP_DEAUTHORIZED_EVENT, PARTICIPANT_JOINED_EVENTS } from '../../zoom/webhook-events';
import { EventSource } from '../sessions';
import { zoomEventDedupeKey } from './dedupe-key';
import { checkServerUrls } from '../../zoom/rtms/server-url-policy';
import { UnstorableEventError, ZoomEventWriter } from './zoom-event-writer';
import { mayHoldUnstorableText, replaceUnstorableText } from '../../common/json/json-text';
import { errorMessage } from '../../common/errors/error-message';
import { isRecord } from '../../common/types/is-record';
import { RateLimitedLog } from '../../common/logging/rate-limited-log';

export type IntakeOutcome = 'accepted' | 'duplicate';

const KNOWN_EVENTS = new Set([...RTMS_STARTED_EVENTS, ...RTMS_STOPPED_EVENTS, ...RTMS_INTERRUPTED_EVENTS, ...CONCURRENCY_EVENTS, ...PARTICIPANT_JOINED_EVENTS, APP_DEAUTHORIZED_EVENT]);
const MAX_EVENT_NAME = 128;

/**
 * The one entrance for verified Zoom events, whichever way they came (webhook or event
 * WebSocket): shape check, server-URL policy, store under the dedupe key and enqueue
 * (batched by ZoomEventWriter).
 * Processing happens later in the zoom-events job, so the caller can answer at once.
 */
@Injectable()
export class ZoomEventIntakeService {
  private readonly logger = new Logger(ZoomEventIntakeService.name);
  /** Refusals come in floods (a misconfigured or hostile sender): one line per reason per 10 s. */
  private readonly refusalLog = new RateLimitedLog(this.logger);
  private readonly received: Counter<'event' | 'source' | 'outcome'>;

  constructor(
    private readonly writer: ZoomEventWriter,
    private readonly config: ConfigService<AppConfig, true>,
    metrics: MetricsService,
  ) {
    this.received = metrics.counter({
      name: 'rtms_hub_zoom_events_received_total',
      help: 'Verified Zoom events received, by event, source and outcome',
      labelNames: ['event', 'source', 'outcome'],
    });
  }

  /** Counts a refusal that happened before the body could be trusted (bad signature…). */
  countRefused(source: EventSource, outcome: string): void {
    this.received.inc({ event: 'unverified', source, outcome });
  }

  /** @param rawJson the body's JSON text exactly as received, if the caller has it. */
  async ingest(received: unknown, source: EventSource, rawJson?: string): Promise<IntakeOutcome> {
    let body = received;
    // Postgres cannot store NUL (\u0000) or a lone surrogate, and a valid Zoom event may
    // carry one (in a name): stored with U+FFFD in their place (docs/api.md), and the
    // payload re-serialised from the cleaned value instead of kept byte for byte.
    if (mayHoldUnstorableText(rawJson ?? JSON.stringify(body) ?? '')) {
      const cleaned = replaceUnstorableText(body);
      if (cleaned.changed) {
        body = cleaned.value;
        rawJson = undefined;
      }
    }
    // A field of the wrong type is refused (an absent one is tolerated: not every event has a payload).
    const malformed = (b: Record<string, unknown>) => (b.payload !== undefined && !isRecord(b.payload)) || (b.event_ts !== undefined && typeof b.event_ts !== 'number');
    if (!isRecord(body) || typeof body.event !== 'string' || body.event.length === 0 || body.event.length > MAX_EVENT_NAME || malformed(body)) {
      this.countRefused(source, 'invalid_event');
      throw new WebhooksError(WebhookErrorCode.InvalidEvent, 'Body must be a Zoom event: {"event": string, "payload": object, "event_ts": number}');
    }
    const event = body.event;
    const label = KNOWN_EVENTS.has(event) ? event : 'other';
    const payload = isRecord(body.payload) ? body.payload : {};

    if (RTMS_STARTED_EVENTS.has(event)) {
      const urls = typeof payload.server_urls === 'string' ? payload.server_urls : '';
      const refusal = checkServerUrls(urls, this.config.get('rtms', { infer: true }));
      if (refusal) {
        this.received.inc({ event: label, source, outcome: 'disallowed_server_url' });
        this.refusalLog.warn('disallowed_server_url', `Refused ${event} for stream ${String(payload.rtms_stream_id).slice(0, 128)}: ${refusal}`);
        throw new WebhooksError(WebhookErrorCode.DisallowedServerUrl, refusal);
      }
    }

    const eventTs = typeof body.event_ts === 'number' && Number.isSafeInteger(body.event_ts) ? body.event_ts : null;
    let id: string | null;
    try {
      id = await this.writer.store({
        source,
        eventType: event,
        dedupeKey: zoomEventDedupeKey(event, body),
        rtmsStreamId: typeof payload.rtms_stream_id === 'string' ? payload.rtms_stream_id.slice(0, 128) : null,
        eventTs,
        payload: body,
        payloadJson: rawJson,
      });
    } catch (err) {
      if (err instanceof UnstorableEventError) {
        // Its own data, not an outage: delivering it again would fail again.
        this.refusalLog.error('unstorable', `Refused ${event}: Postgres cannot store it: ${err.message}`);
        this.received.inc({ event: label, source, outcome: 'unstorable' });
        throw new WebhooksError(WebhookErrorCode.EventUnstorable, 'Event cannot be stored as sent');
      }
      // Not stored: answer 503 so Zoom delivers it again rather than lose it.
      this.logger.error(`Could not store ${event}: ${errorMessage(err)}`);
      this.received.inc({ event: label, source, outcome: 'store_failed' });
      throw new WebhooksError(WebhookErrorCode.EventStoreUnavailable, 'Event could not be stored; retry later');
    }
    if (id === null) {
      this.received.inc({ event: label, source, outcome: 'duplicate' });
      return 'duplicate';
    }
    this.received.inc({ event: label, source, outcome: 'accepted' });
    return 'accepted';
  }
}
