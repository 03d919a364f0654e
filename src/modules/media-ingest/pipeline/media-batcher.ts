import { Logger } from '@nestjs/common';
import { JobName } from '../../../jobs/job-names';
import type { MediaBatchPayload, MediaItem, StreamMediaItems } from '../../../jobs/job-payloads';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { errorMessage } from '../../../common/errors/error-message';

export type MediaJobName = JobName.FrameSave | JobName.TranscriptSave | JobName.ChatSave;

/**
 * Which saver job a media message goes to (video and share both → frame.save; msgType
 * tells them apart). Audio is not here: it goes to the audio spool (audio/audio-spool.ts).
 */
export const MEDIA_JOB: Record<number, MediaJobName> = {
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

export interface StreamIds {
  sessionId: string;
  rtmsStreamId: string;
}

interface Waiting {
  ids: StreamIds;
  item: MediaItem;
}

interface Buffered {
  entries: Waiting[];
  bytes: number;
}

/**
 * Batches the non-audio media of every stream of a worker process: one buffer per job
 * name, enqueued (`addBulk`) when it reaches maxItems / maxBytes, or flushMs after its
 * first item. A job carries the items of many streams, grouped by stream, so the savers
 * pay the per-job cost (queue round trips, a transaction) once per interval rather than
 * once per stream. A failed enqueue keeps the items, in order, and retries on the next
 * flush, so nothing is dropped silently.
 */
export class MediaBatcher {
  private readonly logger = new Logger(MediaBatcher.name);
  private readonly buffers = new Map<MediaJobName, Buffered>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private readonly pendingByStream = new Map<string, number>();

  constructor(
    private readonly sink: BatchSink,
    private readonly opts: BatcherOptions,
  ) {}

  add(ids: StreamIds, name: MediaJobName, item: MediaItem): void {
    let buf = this.buffers.get(name);
    if (!buf) {
      buf = { entries: [], bytes: 0 };
      this.buffers.set(name, buf);
    }
    buf.entries.push({ ids, item });
    buf.bytes += item.data.length;
    this.pendingByStream.set(ids.rtmsStreamId, (this.pendingByStream.get(ids.rtmsStreamId) ?? 0) + 1);
    if (buf.entries.length >= this.opts.maxItems || buf.bytes >= this.opts.maxBytes) void this.flush();
    else this.arm();
  }

  /** Enqueues everything buffered; flushes run one after another. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushNow());
    return this.flushing;
  }

  /** A stream's job is ending: its items are enqueued now (a failed enqueue is retried a few times). */
  async flushStream(rtmsStreamId: string): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await this.flush();
      if (this.pendingItems(rtmsStreamId) === 0) return;
      await new Promise((r) => setTimeout(r, 200 * (i + 1)));
    }
    const left = this.pendingItems(rtmsStreamId);
    // Still buffered: the timer keeps retrying for as long as the process lives.
    if (left > 0) this.logger.error(`Stream ${rtmsStreamId}: ${left} media item(s) could not be enqueued yet; still retrying`);
  }

  /** Last attempt at shutdown. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
    const left = this.pendingItems();
    if (left > 0) this.logger.error(`Shutdown: ${left} media item(s) could not be enqueued and are lost`);
  }

  pendingItems(rtmsStreamId?: string): number {
    if (rtmsStreamId !== undefined) return this.pendingByStream.get(rtmsStreamId) ?? 0;
    let n = 0;
    for (const b of this.buffers.values()) n += b.entries.length;
    return n;
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.opts.flushMs);
  }

  private async flushNow(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    for (const [name, buf] of [...this.buffers.entries()]) {
      if (buf.entries.length === 0) continue;
      this.buffers.set(name, { entries: [], bytes: 0 });
      try {
        await this.sink.enqueueBatches(name, this.split(buf.entries));
        for (const e of buf.entries) {
          const n = (this.pendingByStream.get(e.ids.rtmsStreamId) ?? 1) - 1;
          if (n > 0) this.pendingByStream.set(e.ids.rtmsStreamId, n);
          else this.pendingByStream.delete(e.ids.rtmsStreamId);
        }
      } catch (err) {
        // Put them back in front; the next flush retries.
        const now = this.buffers.get(name)!;
        this.buffers.set(name, { entries: [...buf.entries, ...now.entries], bytes: buf.bytes + now.bytes });
        this.logger.warn(`Enqueue of ${buf.entries.length} ${name} item(s) failed, will retry: ${errorMessage(err)}`);
        this.arm();
      }
    }
  }

  /** Payloads of at most maxItems / maxBytes, each grouping its items by stream (arrival order kept per stream). */
  private split(entries: Waiting[]): MediaBatchPayload[] {
    const out: MediaBatchPayload[] = [];
    let streams = new Map<string, StreamMediaItems>();
    let count = 0;
    let bytes = 0;
    const cut = () => {
      if (count > 0) out.push({ streams: [...streams.values()] });
      streams = new Map();
      count = 0;
      bytes = 0;
    };
    for (const { ids, item } of entries) {
      if (count > 0 && (count >= this.opts.maxItems || bytes + item.data.length > this.opts.maxBytes)) cut();
      let s = streams.get(ids.rtmsStreamId);
      if (!s) {
        s = { sessionId: ids.sessionId, rtmsStreamId: ids.rtmsStreamId, items: [] };
        streams.set(ids.rtmsStreamId, s);
      }
      s.items.push(item);
      count += 1;
      bytes += item.data.length;
    }
    cut();
    return out;
  }
}
