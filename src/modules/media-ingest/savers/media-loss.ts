import { Injectable, Logger } from '@nestjs/common';
import { MetricsService } from '../../../common/metrics/metrics.service';
import type { MediaBatchPayload } from '../../../jobs/job-payloads';
import { EventSource, SessionEventsService } from '../../sessions';
import type { KindCounts } from '../storage/storage-errors';

/** Why media was given up: storage stayed unavailable past the window, the waiting budget was full, or the item itself was refused. */
export type LossReason = 'retry_window' | 'pending_budget' | 'rejected';

const MSG_SHARE = 16;

/** The artifact kind of a batch item (frames and H.264 segments by msg type; chat and transcript by job). */
export function itemKind(msgType: number, segment?: unknown): string {
  if (msgType === 15) return segment ? 'video_segment' : 'video_frame';
  if (msgType === MSG_SHARE) return segment ? 'share_segment' : 'share_frame';
  if (msgType === 17) return 'transcript';
  if (msgType === 18) return 'chat';
  return `msg_${msgType}`;
}

/** Items of a batch per session and kind. */
export function countsBySession(p: MediaBatchPayload): Map<string, { streams: Set<string>; items: KindCounts }> {
  const out = new Map<string, { streams: Set<string>; items: KindCounts }>();
  for (const s of p.streams) {
    if (s.items.length === 0) continue;
    const entry = out.get(s.sessionId) ?? { streams: new Set<string>(), items: {} };
    entry.streams.add(s.rtmsStreamId);
    for (const item of s.items) {
      const kind = itemKind(item.msgType, item.segment);
      entry.items[kind] = (entry.items[kind] ?? 0) + 1;
    }
    out.set(s.sessionId, entry);
  }
  return out;
}

/**
 * Media the hub gave up on is never lost silently: counted
 * (`rtms_hub_media_lost_total{kind,reason}`), logged, and written to each session's
 * timeline as `media.lost` with the counts per kind, where an operator (and the sessions
 * API) sees it.
 */
@Injectable()
export class MediaLossRecorder {
  private readonly logger = new Logger('MediaLoss');

  constructor(
    private readonly metrics: MetricsService,
    private readonly events: SessionEventsService,
  ) {}

  async record(reason: LossReason, lost: MediaBatchPayload, detail: { error: string; firstFailureAt?: number; jobId?: string }): Promise<void> {
    const bySession = countsBySession(lost);
    const counter = this.metrics.counter({ name: 'rtms_hub_media_lost_total', help: 'Media items given up on (never stored)', labelNames: ['kind', 'reason'] });
    const total: KindCounts = {};
    for (const { items } of bySession.values()) {
      for (const [kind, n] of Object.entries(items)) {
        counter.inc({ kind, reason }, n);
        total[kind] = (total[kind] ?? 0) + n;
      }
    }
    if (bySession.size === 0) return;
    this.logger.error(
      `Media lost (${reason}): ${Object.entries(total)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ')} of ${bySession.size} session(s)${detail.jobId ? ` (job ${detail.jobId})` : ''}: ${detail.error}`,
    );
    for (const [sessionId, { streams, items }] of bySession) {
      await this.events
        .recordEvent(sessionId, {
          source: EventSource.Worker,
          eventType: 'media.lost',
          payload: {
            reason,
            items,
            rtms_stream_ids: [...streams],
            error: detail.error,
            ...(detail.firstFailureAt ? { first_failure_at: new Date(detail.firstFailureAt).toISOString() } : {}),
            ...(detail.jobId ? { job_id: detail.jobId } : {}),
          },
        })
        // The metric and the log line above already say it; a session deleted meanwhile (FK) has no timeline.
        .catch((err: unknown) => this.logger.warn(`Could not record media.lost for session ${sessionId}: ${err instanceof Error ? err.message : String(err)}`));
    }
  }
}
