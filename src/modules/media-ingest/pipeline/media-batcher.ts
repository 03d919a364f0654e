import { Logger } from '@nestjs/common';
import { JobName } from '../../../jobs/job-names';
import type { MediaBatchPayload, MediaItem } from '../../../jobs/job-payloads';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import type { CapturePolicy } from '../../sessions/capture-policy';
import type { MediaItemFilter } from './media-filter';

export type MediaJobName = JobName.FrameSave | JobName.AudioSegmentSave | JobName.TranscriptSave | JobName.ChatSave;

/** Which saver job a media message goes to (video and share both → frame.save; msgType tells them apart). */
export const MEDIA_JOB: Record<number, MediaJobName> = {
  [RtmsMessageType.MediaDataAudio]: JobName.AudioSegmentSave,
  [RtmsMessageType.MediaDataVideo]: JobName.FrameSave,
  [RtmsMessageType.MediaDataShare]: JobName.FrameSave,
  [RtmsMessageType.MediaDataTranscript]: JobName.TranscriptSave,
  [RtmsMessageType.MediaDataChat]: JobName.ChatSave,
};

export interface BatchSink {
  enqueueBatches(name: MediaJobName, batches: MediaBatchPayload[]): Promise<void>;
}

export interface BatcherOptions {
  maxItems: number;
  maxBytes: number;
  flushMs: number;
}

export interface BatcherStats {
  kept: number;
  filtered: number;
  enqueuedItems: number;
  batches: number;
}

interface Buffered {
  items: MediaItem[];
  bytes: number;
}

/**
 * Per-stream media pipeline: filter hook → per-job buffers → `enqueueBulk` when a
 * buffer reaches maxItems / maxBytes, or flushMs after its first item. A failed enqueue
 * keeps the items and retries on the next flush, so nothing is dropped silently.
 */
export class MediaBatcher {
  private readonly logger = new Logger(MediaBatcher.name);
  private readonly buffers = new Map<MediaJobName, Buffered>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  readonly stats: BatcherStats = { kept: 0, filtered: 0, enqueuedItems: 0, batches: 0 };

  constructor(
    private readonly ids: { sessionId: string; rtmsStreamId: string },
    private readonly policy: CapturePolicy,
    private readonly filter: MediaItemFilter,
    private readonly sink: BatchSink,
    private readonly opts: BatcherOptions,
  ) {}

  add(item: MediaItem): void {
    const name = MEDIA_JOB[item.msgType];
    if (!name) return;
    if (!this.filter.shouldKeep(item, this.policy)) {
      this.stats.filtered += 1;
      return;
    }
    this.stats.kept += 1;
    let buf = this.buffers.get(name);
    if (!buf) {
      buf = { items: [], bytes: 0 };
      this.buffers.set(name, buf);
    }
    buf.items.push(item);
    buf.bytes += item.data.length;
    if (buf.items.length >= this.opts.maxItems || buf.bytes >= this.opts.maxBytes) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, this.opts.flushMs);
    }
  }

  /** Enqueues everything buffered; flushes run one after another. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushNow());
    return this.flushing;
  }

  /** Final flush at the end of the stream job (retries a failed enqueue a few times). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (let i = 0; i < 3; i++) {
      await this.flush();
      if (this.pendingItems() === 0) return;
      await new Promise((r) => setTimeout(r, 200 * (i + 1)));
    }
    if (this.pendingItems() > 0) this.logger.error(`Stream ${this.ids.rtmsStreamId}: ${this.pendingItems()} media item(s) could not be enqueued`);
  }

  pendingItems(): number {
    let n = 0;
    for (const b of this.buffers.values()) n += b.items.length;
    return n;
  }

  private async flushNow(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    for (const [name, buf] of [...this.buffers.entries()]) {
      if (buf.items.length === 0) continue;
      this.buffers.set(name, { items: [], bytes: 0 });
      const batches = this.split(buf.items);
      try {
        await this.sink.enqueueBatches(name, batches);
        this.stats.enqueuedItems += buf.items.length;
        this.stats.batches += batches.length;
      } catch (err) {
        // Put them back in front; the next flush retries.
        const now = this.buffers.get(name)!;
        this.buffers.set(name, { items: [...buf.items, ...now.items], bytes: buf.bytes + now.bytes });
        this.logger.warn(`Stream ${this.ids.rtmsStreamId}: enqueue of ${buf.items.length} ${name} item(s) failed, will retry: ${String(err)}`);
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = null;
            void this.flush();
          }, this.opts.flushMs);
        }
      }
    }
  }

  private split(items: MediaItem[]): MediaBatchPayload[] {
    const out: MediaBatchPayload[] = [];
    let cur: MediaItem[] = [];
    let bytes = 0;
    for (const item of items) {
      if (cur.length > 0 && (cur.length >= this.opts.maxItems || bytes + item.data.length > this.opts.maxBytes)) {
        out.push({ ...this.ids, items: cur });
        cur = [];
        bytes = 0;
      }
      cur.push(item);
      bytes += item.data.length;
    }
    if (cur.length > 0) out.push({ ...this.ids, items: cur });
    return out;
  }
}
