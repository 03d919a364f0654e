import { Logger } from '@nestjs/common';
import { JobName } from '../../../jobs/job-names';
import type { MediaBatchPayload, MediaItem, StreamMediaItems } from '../../../jobs/job-payloads';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { errorMessage } from '../../../common/errors/error-message';
import { isRedisConnectionError, redisOutage } from '../../../common/logging/redis-outage-log';
import type { MediaSpill, SpilledCount, SpilledEntry } from './media-spill';

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
  /**
   * How long a stream's end (flushStream) and close() wait for enqueues (default 5 s).
   * With Redis unreachable an enqueue waits in ioredis's offline queue for as long as the
   * outage lasts; past this a stream's job ends anyway (its items stay here, retried) and
   * close() moves what it holds to the spill, before the shutdown timeout kills the process.
   */
  enqueueWaitMs?: number;
}

/**
 * Why items were dropped: both budgets full while the queue was unreachable, still
 * unqueued when the process shut down with no room in the spill, spilled longer ago
 * than the spill keeps media (MAX_AGE_MS in media-spill.ts), or spilled by this process
 * to a file that could not be read back (set aside as `*.bad`).
 */
export type DropReason = 'buffers_full' | 'shutdown' | 'spill_expired' | 'spill_unreadable';

/** What the batcher reports (metrics, the session's timeline, logs). */
export interface BatcherHooks {
  spilled(name: MediaJobName, items: number): void;
  /** Items that will never be stored. */
  dropped(ids: StreamIds, name: MediaJobName, items: number, reason: DropReason): void;
  /** Spilled items enqueued after all. */
  drained(items: number): void;
  /** Items of the stream left in the spill at shutdown (the queue unreachable), for the next process on this host. */
  deferred?(ids: StreamIds, items: number): void;
  /** Spill files of processes gone, taken over to be enqueued. */
  adopted?(files: number, bytes: number): void;
  /** Items of an adopted file enqueued: media another process received and could not queue. */
  recovered?(ids: StreamIds, name: MediaJobName, items: number): void;
}

const NO_HOOKS: BatcherHooks = { spilled: () => undefined, dropped: () => undefined, drained: () => undefined };

/** BatcherOptions.enqueueWaitMs by default. */
const DEFAULT_ENQUEUE_WAIT_MS = 5000;

/** At shutdown with a working queue, spill files enqueued at most (one per flush); the rest stay for the next process. */
const MAX_SHUTDOWN_DRAINS = 64;

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
 * The spill outlives the process: what is left at shutdown stays there for the next
 * process on the host, which adopts it (close(), MediaSpill.adoptOrphans).
 */
export class MediaBatcher {
  private readonly logger = new Logger(MediaBatcher.name);
  private readonly buffers = new Map<MediaJobName, Buffered>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private queuedFlush: Promise<void> | null = null;
  /** Items added here and not yet enqueued or dropped, by stream (adopted spill files not included). */
  private readonly pendingByStream = new Map<string, { ids: StreamIds; n: number }>();
  /** Bytes of every buffer (taken out while a flush is enqueueing them, put back if it fails). */
  private memBytes = 0;
  /** Callers waiting for a stream's items to be enqueued or dropped (whenSettled). */
  private readonly settledWaiters = new Map<string, Array<() => void>>();
  /** Items a running flush is enqueueing, by job: close() spills them if that enqueue hangs. */
  private readonly enqueueing = new Map<MediaJobName, Waiting[]>();
  private closed = false;

  constructor(
    private readonly sink: BatchSink,
    private readonly opts: BatcherOptions,
    private readonly spill: MediaSpill | null = null,
    private readonly hooks: BatcherHooks = NO_HOOKS,
  ) {
    // Spill files of processes gone (killed, or shut down while Redis was down) are
    // enqueued like this process's own once the queue works.
    spill?.watch((files, bytes) => {
      this.logger.warn(`Took over ${files} media spill file(s) (${bytes} bytes) of worker processes gone; enqueueing them`);
      this.hooks.adopted?.(files, bytes);
      this.arm();
    });
  }

  add(ids: StreamIds, name: MediaJobName, item: MediaItem): void {
    const buf = this.buffer(name);
    buf.entries.push({ ids, item });
    buf.bytes += item.data.length;
    this.memBytes += item.data.length;
    const pending = this.pendingByStream.get(ids.rtmsStreamId);
    if (pending) pending.n += 1;
    else this.pendingByStream.set(ids.rtmsStreamId, { ids, n: 1 });
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

  /** Reports the entries dropped; `pending`: they are this process's own, counted in pendingByStream (not an adopted file's). */
  private drop(name: MediaJobName, entries: Waiting[], reason: DropReason = 'buffers_full', pending = true): void {
    const byStream = new Map<string, SpilledCount>();
    for (const e of entries) {
      const s = byStream.get(e.ids.rtmsStreamId) ?? { ids: e.ids, name, n: 0 };
      s.n += 1;
      byStream.set(e.ids.rtmsStreamId, s);
    }
    this.dropCounts(byStream.values(), reason, pending);
  }

  private dropCounts(counts: Iterable<SpilledCount>, reason: DropReason, pending: boolean): void {
    for (const { ids, name, n } of counts) {
      if (pending) this.settle(ids.rtmsStreamId, n);
      this.hooks.dropped(ids, name, n, reason);
    }
  }

  /** `n` items of the stream are enqueued or dropped: no longer pending. */
  private settle(rtmsStreamId: string, n: number): void {
    const pending = this.pendingByStream.get(rtmsStreamId);
    if (!pending) return;
    pending.n -= n;
    if (pending.n > 0) return;
    this.pendingByStream.delete(rtmsStreamId);
    const waiters = this.settledWaiters.get(rtmsStreamId);
    this.settledWaiters.delete(rtmsStreamId);
    for (const resolve of waiters ?? []) resolve();
  }

  /**
   * Resolves once every item of the stream added so far is enqueued or dropped (at once
   * when none waits). Never resolves for items left in the spill at shutdown: they are not
   * landed, and the next process on the host enqueues them.
   */
  whenSettled(rtmsStreamId: string): Promise<void> {
    if (!this.pendingByStream.has(rtmsStreamId)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.settledWaiters.get(rtmsStreamId);
      if (list) list.push(resolve);
      else this.settledWaiters.set(rtmsStreamId, [resolve]);
    });
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
    const deadline = Date.now() + (this.opts.enqueueWaitMs ?? DEFAULT_ENQUEUE_WAIT_MS);
    for (let i = 0; i < 3; i++) {
      if (!(await this.beforeDeadline(this.flush(), deadline))) break; // an enqueue hanging (Redis away)
      if (this.pendingItems(rtmsStreamId) === 0) return;
      await new Promise((r) => setTimeout(r, 200 * (i + 1)));
    }
    const left = this.pendingItems(rtmsStreamId);
    // Still buffered: the timer keeps retrying for as long as the process lives.
    if (left > 0) this.logger.error(`Stream ${rtmsStreamId}: ${left} media item(s) could not be enqueued yet; still retrying`);
  }

  /**
   * Last attempt at shutdown: everything is enqueued if the queue works (the spill too, up
   * to MAX_SHUTDOWN_DRAINS files). What cannot be (the queue unreachable) goes to the
   * spill, whose files stay on this host's disk for the next worker process here to
   * enqueue (MediaSpill.adoptOrphans), and is reported per stream as deferred; only what
   * the spill cannot take (no spill, or its budget full) is lost, reported per stream as
   * dropped (`shutdown`).
   */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const deadline = Date.now() + (this.opts.enqueueWaitMs ?? DEFAULT_ENQUEUE_WAIT_MS);
    let settled = await this.beforeDeadline(this.flush(), deadline);
    for (let i = 0; settled && i < MAX_SHUTDOWN_DRAINS && this.spill && !this.spill.empty && this.memBytes === 0; i++) {
      const before = this.spill.bytes;
      settled = await this.beforeDeadline(this.flush(), deadline);
      if (this.spill.bytes >= before) break;
    }
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // An enqueue still hanging (Redis unreachable): its items are spilled too. Should it
    // go through after all, they are enqueued twice, which the savers' idempotence absorbs.
    const left = new Map<MediaJobName, Waiting[]>();
    for (const [name, entries] of this.enqueueing) left.set(name, [...entries]);
    for (const [name, buf] of this.buffers) left.set(name, [...(left.get(name) ?? []), ...buf.entries]);
    this.buffers.clear();
    this.enqueueing.clear();
    this.memBytes = 0;
    let lost = 0;
    for (const [name, entries] of left) {
      if (entries.length === 0) continue;
      // False also when the write fails (a full disk): those are dropped and reported, not lost silently.
      const spilled = this.spill?.append(entries.map((w): SpilledEntry => ({ name, ids: w.ids, item: w.item }))) ?? false;
      if (spilled) continue;
      lost += entries.length;
      this.drop(name, entries, 'shutdown');
    }
    let deferred = 0;
    for (const { ids, n } of this.pendingByStream.values()) {
      deferred += n;
      this.hooks.deferred?.(ids, n);
    }
    this.pendingByStream.clear();
    this.spill?.release();
    if (deferred > 0) {
      this.logger.error(`Shutdown: ${deferred} media item(s) could not be enqueued; left in ${this.spill!.dir} for the next worker process on this host (recorded per stream as media.deferred)`);
    }
    if (lost > 0) this.logger.error(`Shutdown: ${lost} media item(s) could not be enqueued and are lost (recorded per stream as media.dropped)`);
  }

  /** Items added and not yet enqueued or dropped (in memory or in the spill). */
  pendingItems(rtmsStreamId?: string): number {
    if (rtmsStreamId !== undefined) return this.pendingByStream.get(rtmsStreamId)?.n ?? 0;
    let n = 0;
    for (const c of this.pendingByStream.values()) n += c.n;
    return n;
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.opts.flushMs);
  }

  /** Never rejects: a flush that threw would leave every later flush chained to its rejection. */
  private async flushNow(): Promise<void> {
    try {
      await this.flushAll();
    } catch (err) {
      this.logger.error(`Media flush failed, will retry: ${errorMessage(err)}`);
      if (!this.closed) this.arm();
    }
  }

  private async flushAll(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.closed) return;
    let failed = false;
    for (const [name, buf] of [...this.buffers.entries()]) {
      if (buf.entries.length === 0) continue;
      this.buffers.set(name, { entries: [], bytes: 0 });
      this.enqueueing.set(name, buf.entries);
      try {
        await this.sink.enqueueBatches(name, this.split(buf.entries));
        if (this.closed) return; // close() gave up waiting and spilled them
        this.memBytes -= buf.bytes;
        for (const e of buf.entries) this.settle(e.ids.rtmsStreamId, 1);
      } catch (err) {
        if (this.closed) return;
        failed = true;
        // Put them back in front; the next flush retries.
        const now = this.buffers.get(name)!;
        this.buffers.set(name, { entries: [...buf.entries, ...now.entries], bytes: buf.bytes + now.bytes });
        this.enqueueFailed(`Enqueue of ${buf.entries.length} ${name} item(s) failed, will retry`, err);
        this.arm();
      } finally {
        if (!this.closed) this.enqueueing.delete(name);
      }
    }
    if (!failed && this.spill && !this.spill.empty) await this.drainSpill();
  }

  /** The queue works: the oldest spill file is enqueued (one per flush, so memory stays bounded). */
  private async drainSpill(): Promise<void> {
    const file = this.spill!.oldest();
    if (!file) return;
    if (file.failed) {
      this.logger.error(`Spill file unreadable, set aside as *.bad and skipped (its media is lost unless an operator recovers it): ${file.failed}`);
      // Our own file: its items would stay pending for good (whenSettled never resolving) and be
      // reported deferred at shutdown, though no process adopts a *.bad file. An adopted one's are not counted here.
      this.dropCounts(file.lost, 'spill_unreadable', true);
      if (!this.spill!.empty) this.arm();
      return;
    }
    if (file.expired) {
      // Not enqueued: it may hold media of a participant erased, a stream revoked or a session purged since.
      this.logger.error(`Spill file older than a day: its ${file.entries.length} media item(s) are dropped, not saved (recorded per stream as media.dropped)`);
      // An adopted file's items were never pending here (see below): a stream of the same id running here keeps its count.
      for (const [name, entries] of byJob(file.entries)) this.drop(name, entries, 'spill_expired', !file.adopted);
      file.done();
      if (!this.spill!.empty) this.arm();
      return;
    }
    try {
      // Saves are idempotent: a file enqueued in part and then again adds nothing twice.
      for (const [name, entries] of byJob(file.entries)) await this.sink.enqueueBatches(name, this.split(entries));
    } catch (err) {
      this.enqueueFailed('Enqueue of spilled media failed, will retry', err);
      this.arm();
      return;
    }
    file.done();
    if (file.unreadable > 0) {
      // Cut short by a process killed mid-append: what those lines held is gone, and which stream they belonged to is unknown.
      this.logger.error(`${file.unreadable} spilled media item(s) unreadable (a process killed while writing them) and lost`);
    }
    if (file.adopted) this.reportRecovered(file.entries);
    // Adopted items were never pending here (their stream may run here too, with its own count).
    else for (const e of file.entries) this.settle(e.ids.rtmsStreamId, 1);
    this.hooks.drained(file.entries.length);
    if (!this.spill!.empty) this.arm();
  }

  /** Whether `p` settled before `deadline` (a hung enqueue is left behind, not awaited). */
  private async beforeDeadline(p: Promise<void>, deadline: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))));
    try {
      return await Promise.race([p.then(() => true), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private reportRecovered(entries: SpilledEntry[]): void {
    const counts = new Map<string, { ids: StreamIds; name: MediaJobName; n: number }>();
    for (const e of entries) {
      const key = `${e.ids.rtmsStreamId}|${e.name}`;
      const c = counts.get(key) ?? { ids: e.ids, name: e.name, n: 0 };
      c.n += 1;
      counts.set(key, c);
    }
    for (const c of counts.values()) this.hooks.recovered?.(c.ids, c.name, c.n);
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

/** Spilled entries by job, in file order within each. */
function byJob(entries: SpilledEntry[]): Map<MediaJobName, Waiting[]> {
  const out = new Map<MediaJobName, Waiting[]>();
  for (const e of entries) {
    const list = out.get(e.name);
    if (list) list.push({ ids: e.ids, item: e.item });
    else out.set(e.name, [{ ids: e.ids, item: e.item }]);
  }
  return out;
}
