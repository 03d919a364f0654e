import { Logger } from '@nestjs/common';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import type { IngestMetrics } from '../ingest-metrics';
import type { StreamCounters } from './stream-counters';
import type { StreamMediaPipeline } from '../pipeline/stream-media-pipeline';
import { MEDIA_MESSAGE_TYPES, MEDIA_TYPE_LABEL, ParsedMedia, ParseFailure, RtmsMessage, toMediaItem } from '../protocol/rtms-message-parser';

/**
 * A stream's media messages, from whichever socket they came: parsed into media items,
 * counted, and handed to the stream's pipeline; malformed ones are counted and dropped.
 * (The hot path: every audio packet goes through `onMediaMessage`.)
 */
export class StreamMediaDispatcher {
  private readonly logger = new Logger(StreamMediaDispatcher.name);
  private readonly invalidLogged = new Map<string, number>();

  constructor(
    private readonly rtmsStreamId: string,
    private readonly metrics: IngestMetrics,
    private readonly media: StreamMediaPipeline,
    private readonly counters: StreamCounters,
  ) {}

  onMediaMessage(m: RtmsMessage, bytes: number, receivedAt: number): void {
    if (!MEDIA_MESSAGE_TYPES.has(m.msg_type)) {
      this.onInvalid('media', 'unexpected_msg_type', bytes, m.msg_type);
      return;
    }
    const parsed = toMediaItem(m, receivedAt);
    if (!parsed.ok) {
      this.onInvalid('media', parsed.reason, bytes, m.msg_type);
      return;
    }
    this.onParsedMedia(parsed, bytes, receivedAt);
  }

  /** A valid media message, from the general path above or the media socket's fast path. */
  onParsedMedia(parsed: ParsedMedia, bytes: number, receivedAt: number): void {
    const msgType = parsed.item.msgType;
    const label = MEDIA_TYPE_LABEL[msgType];
    if (parsed.lengthMismatch) this.metrics.invalid.inc({ reason: 'length_mismatch_kept' });
    this.metrics.mediaReceived(label, bytes);
    this.counters.media(label, bytes);
    if (msgType >= RtmsMessageType.MediaDataTranscript) this.metrics.textArrivalDelay.observe({ media_type: label }, Math.max(0, receivedAt - parsed.item.timestamp) / 1000);
    const before = this.media.stats.filtered;
    this.media.add(parsed.item, parsed.bytes);
    if (this.media.stats.filtered !== before) this.metrics.filtered.inc({ media_type: label });
  }

  onInvalid(socket: 'signaling' | 'media', reason: ParseFailure | string, bytes: number, msgType?: number): void {
    this.metrics.invalid.inc({ reason });
    // Log the first of each kind per stream, then every 100th, so a flood cannot drown the log.
    const n = (this.invalidLogged.get(reason) ?? 0) + 1;
    this.invalidLogged.set(reason, n);
    if (n === 1 || n % 100 === 0) {
      this.logger.warn(`Stream ${this.rtmsStreamId}: dropped a malformed ${socket} message (${reason}, ${bytes} bytes${msgType !== undefined ? `, msg_type ${msgType}` : ''}; ${n} so far)`);
    }
  }
}
