import { Logger } from '@nestjs/common';
import { JobName } from '../../../jobs/job-names';
import type { MediaBatchPayload, MediaItem, StreamMediaItems } from '../../../jobs/job-payloads';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { errorMessage } from '../../../common/errors/error-message';
import { isRedisConnectionError, redisOutage } from '../../../common/logging/redis-outage-log';
import type { MediaSpill, SpilledEntry } from './media-spill';

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
  /**
   * Media bytes held in memory at most (while the queue is unreachable). Past it, the
   * oldest frames, then text, go to the spill; what the spill cannot take is dropped,
   * frames first. Default: no bound.
   */
  maxBufferedBytes?: number;
}

/** Why items were dropped: both budgets full while the queue was unreachable, or still unqueued when the process shut down. */
export type DropReason = 'buffers_full' | 'shutdown';

/** What the batcher reports (metrics, the session's timeline, logs). */
export interface BatcherHooks {
  spilled(name: MediaJobName, items: number): void;
  /** Items that will never be stored. */
  dropped(ids: StreamIds, name: MediaJobName, items: number, reason: DropReason): void;
  /** Spilled items enqueued after all. */
  drained(items: number): void;
}

const NO_HOOKS: BatcherHooks = { spilled: () => undefined, dropped: () => undefined, drained: () => undefined };

/** Frames go first, to the spill or away: text (transcript, chat) is tiny and precious. */
const RELIEF_ORDER: MediaJobName[] = [JobName.FrameSave, JobName.ChatSave, JobName.TranscriptSave];

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
 *
 * Memory is bounded (maxBufferedBytes): while the queue is unreachable, the oldest frames
 * and then text move to a local spill (MediaSpill, a byte budget on disk), read back and
 * enqueued once the queue works again. Only past both budgets are items dropped — frames
 * before text — and each drop is reported (hooks.dropped). Arrival order is kept within
 * memory and within the spill, not between them (each item carries its Zoom timestamp).
 */
export class MediaBatcher {
  private readonly logger = new Logger(MediaBatcher.name);
  private readonly buffers = new Map<MediaJobName, Buffered>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private queuedFlush: Promise<void> | null = null;
  private readonly pendingByStream = new Map<string, number>();
  /** Bytes of every buffer (taken out while a flush is enqueueing them, put back if it fails). */
  private memBytes = 0;

  constructor(
    private readonly sink: BatchSink,
    private readonly opts: BatcherOptions,
    private readonly spill: MediaSpill | null = null,
    private readonly hooks: BatcherHooks = NO_HOOKS,
  ) {}

  add(ids: StreamIds, name: MediaJobName, item: MediaItem): void {
    const buf = this.buffer(name);
    buf.entries.push({ ids, item });
    buf.bytes += item.data.length;
    this.memBytes += item.data.length;
    this.pendingByStream.set(ids.rtmsStreamId, (this.pendingByStream.get(ids.rtmsStreamId) ?? 0) + 1);
    if (this.memBytes > (this.opts.maxBufferedBytes ?? Infinity)) this.relieve();
    if (buf.entries.length >= this.opts.maxItems || buf.bytes >= this.opts.maxBytes) void this.flush();
    else this.arm();
  }

  /** Media bytes held in memory now (what maxBufferedBytes bounds). */
  get bufferedBytes(): number {
    return this.memBytes;
  }

  /** Bytes in the spill now. */
  get spilledBytes(): number {
    return this.spill?.bytes ?? 0;
  }

  private buffer(name: MediaJobName): Buffered {
    let buf = this.buffers.get(name);
    if (!buf) {
      buf = { entries: [], bytes: 0 };
      this.buffers.set(name, buf);
    }
    return buf;
  }

  /**
   * Over the memory budget: moves the oldest items, frames first, to the spill until half
   * the budget is free; whatever the spill refuses is dropped (frames first, so text
   * keeps its place in memory as long as any frame can go instead).
   */
  private relieve(): void {
    const target = (this.opts.maxBufferedBytes ?? Infinity) / 2;
    for (const name of RELIEF_ORDER) {
      const buf = this.buffers.get(name);
      if (!buf || buf.entries.length === 0) continue;
      let n = 0;
      let bytes = 0;
      while (n < buf.entries.length && this.memBytes - bytes > target) bytes += buf.entries[n++].item.data.length;
      const moved = buf.entries.splice(0, n);
      buf.bytes -= bytes;
      this.memBytes -= bytes;
      const spilled = this.spill?.append(moved.map((w): SpilledEntry => ({ name, ids: w.ids, item: w.item }))) ?? false;
      if (spilled) this.hooks.spilled(name, moved.length);
      else this.drop(name, moved);
      if (this.memBytes <= target) return;
    }
  }

  private drop(name: MediaJobName, entries: Waiting[], reason: DropReason = 'buffers_full'): void {
    const byStream = new Map<string, { ids: StreamIds; n: number }>();
    for (const e of entries) {
      const s = byStream.get(e.ids.rtmsStreamId) ?? { ids: e.ids, n: 0 };
      s.n += 1;
      byStream.set(e.ids.rtmsStreamId, s);
    }
    for (const { ids, n } of byStream.values()) {
      this.settle(ids.rtmsStreamId, n);
      this.hooks.dropped(ids, name, n, reason);
    }
  }

  /** `n` items of the stream are enqueued or dropped: no longer pending. */
  private settle(rtmsStreamId: string, n: number): void {
    const left = (this.pendingByStream.get(rtmsStreamId) ?? n) - n;
    if (left > 0) this.pendingByStream.set(rtmsStreamId, left);
    else this.pendingByStream.delete(rtmsStreamId);
  }

  /**
   * Enqueues everything buffered; flushes run one after another. At most one waits behind
   * the running one (it takes everything buffered when it starts): while an enqueue hangs
   * (Redis down), every add past maxItems asks for a flush, and chaining one per call
   * would grow without bound.
   */
  flush(): Promise<void> {
    if (this.queuedFlush) return this.queuedFlush;
    const next = this.flushing.then(() => {
      this.queuedFlush = null;
      return this.flushNow();
    });
    this.queuedFlush = next;
    this.flushing = next;
    return next;
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

  /**
   * Last attempt at shutdown. What still could not be enqueued (the queue unreachable) is
   * lost: reported per stream as dropped (`shutdown`), and the spill files removed, as no
   * other process reads them.
   */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
    const left = this.pendingItems();
    if (left === 0) return;
    for (const [name, buf] of [...this.buffers.entries()]) {
      this.buffers.set(name, { entries: [], bytes: 0 });
      this.memBytes -= buf.bytes;
      this.drop(name, buf.entries, 'shutdown');
    }
    for (let file = this.spill?.oldest(); file; file = this.spill?.oldest()) {
      for (const e of file.entries) this.drop(e.name, [e], 'shutdown');
      file.done();
    }
    this.logger.error(`Shutdown: ${left} media item(s) could not be enqueued and are lost (recorded per stream as media.dropped)`);
  }

  /** Items added and not yet enqueued or dropped (in memory or in the spill). */
  pendingItems(rtmsStreamId?: string): number {
    if (rtmsStreamId !== undefined) return this.pendingByStream.get(rtmsStreamId) ?? 0;
    let n = 0;
    for (const c of this.pendingByStream.values()) n += c;
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
    let failed = false;
    for (const [name, buf] of [...this.buffers.entries()]) {
      if (buf.entries.length === 0) continue;
      this.buffers.set(name, { entries: [], bytes: 0 });
      try {
        await this.sink.enqueueBatches(name, this.split(buf.entries));
        this.memBytes -= buf.bytes;
        for (const e of buf.entries) this.settle(e.ids.rtmsStreamId, 1);
      } catch (err) {
        failed = true;
        // Put them back in front; the next flush retries.
        const now = this.buffers.get(name)!;
        this.buffers.set(name, { entries: [...buf.entries, ...now.entries], bytes: buf.bytes + now.bytes });
        this.enqueueFailed(`Enqueue of ${buf.entries.length} ${name} item(s) failed, will retry`, err);
        this.arm();
      }
    }
    if (!failed && this.spill && !this.spill.empty) await this.drainSpill();
  }

  /** The queue works: the oldest spill file is enqueued (one per flush, so memory stays bounded). */
  private async drainSpill(): Promise<void> {
    const file = this.spill!.oldest();
    if (!file) return;
    const byName = new Map<MediaJobName, Waiting[]>();
    for (const e of file.entries) {
      const list = byName.get(e.name) ?? [];
      list.push({ ids: e.ids, item: e.item });
      byName.set(e.name, list);
    }
    try {
      // Saves are idempotent: a file enqueued in part and then again adds nothing twice.
      for (const [name, entries] of byName) await this.sink.enqueueBatches(name, this.split(entries));
    } catch (err) {
      this.enqueueFailed('Enqueue of spilled media failed, will retry', err);
      this.arm();
      return;
    }
    file.done();
    for (const e of file.entries) this.settle(e.ids.rtmsStreamId, 1);
    this.hooks.drained(file.entries.length);
    if (!this.spill!.empty) this.arm();
  }

  /**
   * Redis unreachable: one line per outage for the whole process (redis-outage-log.ts),
   * not one per flush (every MEDIA_BATCH_FLUSH_MS); what still waits when a stream ends
   * is logged then ("could not be enqueued yet"). Other errors are logged as they come.
   */
  private enqueueFailed(what: string, err: unknown): void {
    const message = errorMessage(err);
    if (isRedisConnectionError(message)) redisOutage.failed(undefined, message);
    else this.logger.warn(`${what}: ${message}`);
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
