import { Logger } from '@nestjs/common';
import { WebhookErrorCode } from '../../../common/errors/error-codes';
import { WebhooksError } from '../webhooks.errors';
import { Counter } from 'prom-client';
import { type RawData } from 'ws';
import { errorMessage } from '../../../common/errors/error-message';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { isRecord } from '../../../common/types/is-record';
import { EventSource } from '../../sessions';
import { ZoomEventIntakeService } from '../zoom-event-intake.service';
import { MAX_FRAME_BYTES, parseEventWsFrame } from './event-ws-frames';

/** Attempts to store one received event when the database/queue is unavailable. */
const INGEST_ATTEMPTS = 6;
const INGEST_RETRY_BASE_MS = 250;

export interface FrameIntakeHooks {
  /** Zoom answered our heartbeat. */
  heartbeatAck(): void;
  /** An event arrived (the connection is proven good). */
  eventReceived(): void;
}

/**
 * Frames → intake: classifies each frame and hands events, one at a time in arrival
 * order, to ZoomEventIntakeService (the webhook's path). Zoom will not resend an event it
 * delivered here, so storing is retried with backoff while the store is unavailable.
 */
export class EventWsFrameIntake {
  private readonly frames: Counter<'kind'>;
  private readonly ingested: Counter<'outcome'>;
  private chain: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly sleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  constructor(
    private readonly intake: ZoomEventIntakeService,
    private readonly hooks: FrameIntakeHooks,
    private readonly logger: Logger,
    metrics: MetricsService,
  ) {
    this.frames = metrics.counter({
      name: 'rtms_hub_zoom_event_ws_frames_total',
      help: 'Frames received on the Zoom event WebSocket by kind (event, heartbeat_ack, other, malformed)',
      labelNames: ['kind'],
    });
    this.ingested = metrics.counter({
      name: 'rtms_hub_zoom_event_ws_events_total',
      help: 'Events received on the Zoom event WebSocket by intake outcome (accepted, duplicate, refused, lost)',
      labelNames: ['outcome'],
    });
  }

  receive(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.frames.inc({ kind: 'malformed' });
      this.logger.warn('Malformed event WebSocket frame: binary frame (ignored)');
      return;
    }
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (bytes.length > MAX_FRAME_BYTES) {
      // Dropped unread (an event is a few KB); the socket stays up (MAX_WIRE_FRAME_BYTES).
      this.frames.inc({ kind: 'malformed' });
      this.logger.warn(`Malformed event WebSocket frame (${bytes.length} bytes): larger than ${MAX_FRAME_BYTES} bytes; dropped`);
      return;
    }
    const text = bytes.toString('utf8');
    const frame = parseEventWsFrame(text);
    this.frames.inc({ kind: frame.kind });
    switch (frame.kind) {
      case 'heartbeat_ack':
        this.hooks.heartbeatAck();
        return;
      case 'event': {
        this.hooks.eventReceived();
        const event = frame.event;
        this.chain = this.chain.then(() => this.ingest(event));
        return;
      }
      case 'other':
        this.logger.debug(`Event WebSocket frame of module "${frame.module}" ignored`);
        return;
      case 'malformed':
        this.logger.warn(`Malformed event WebSocket frame (${text.length} bytes): ${frame.reason}; ignored`);
        return;
    }
  }

  /** Shutting down: an event that fails to store now is counted lost, not retried again. */
  stopRetrying(): void {
    this.stopping = true;
  }

  /**
   * Waits (at most `timeoutMs`) for received events to be stored, then cuts short any
   * retry backoff still waiting. False when events were still being stored.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const drained = await Promise.race([this.chain.then(() => true), new Promise<boolean>((r) => this.sleepRaw(timeoutMs, () => r(false)))]);
    for (const s of this.sleeps) {
      clearTimeout(s.timer);
      s.resolve();
    }
    this.sleeps.clear();
    return drained;
  }

  /** The webhook's path; retried while the store is unavailable (Zoom will not resend it). */
  private async ingest(event: Record<string, unknown>): Promise<void> {
    const name = String(event.event);
    const stream = isRecord(event.payload) && typeof event.payload.rtms_stream_id === 'string' ? ` for stream ${event.payload.rtms_stream_id}` : '';
    for (let i = 0; ; i++) {
      try {
        const outcome = await this.intake.ingest(event, EventSource.EventWebSocket);
        this.ingested.inc({ outcome });
        this.logger.log(`Event WebSocket ${name}${stream}: ${outcome}`);
        return;
      } catch (err) {
        const msg = errorMessage(err);
        // The intake refused the event itself: storing it again would change nothing.
        if (err instanceof WebhooksError && err.code !== WebhookErrorCode.EventStoreUnavailable) {
          this.ingested.inc({ outcome: 'refused' });
          this.logger.warn(`Event WebSocket ${name}${stream} refused by intake: ${msg}`);
          return;
        }
        if (i + 1 >= INGEST_ATTEMPTS || this.stopping) {
          this.ingested.inc({ outcome: 'lost' });
          this.logger.error(`Event WebSocket ${name}${stream} could not be stored after ${i + 1} attempts: ${msg}`);
          return;
        }
        await this.sleep(INGEST_RETRY_BASE_MS * 2 ** i);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.sleepRaw(ms, resolve));
  }

  private sleepRaw(ms: number, done: () => void): void {
    const entry = {
      resolve: done,
      timer: setTimeout(() => {
        this.sleeps.delete(entry);
        done();
      }, ms),
    };
    this.sleeps.add(entry);
  }
}
