import { Logger } from '@nestjs/common';
import { errorMessage } from '../../../common/errors/error-message';
import { isMediaTimestamp } from '../protocol/rtms-message-parser';
import type { AppendResult, AudioPartStore, AudioSpoolHooks, AudioSpoolOptions, AudioStreamInfo, PartRow, SpooledPacket, StreamEnd, WrittenParts } from './audio-spool.ports';
import { partKey } from './audio-spool.ports';
import { MAX_TRACKED_PARTICIPANTS } from '../stream/participant-cap';
import { PcmCache } from './pcm-cache';
import { advanceClock, cutWaiting, Group, groupKey, isErasedGroup, SEGMENT_GRACE_MS, SeenOffsets, segKey, segmentOf, segmentsToEnsure, segmentStart, SegmentState, StreamState } from './spool-groups';

// The ports moved to audio-spool.ports.ts; re-exported for the callers that import them from here.
export type { AppendResult, AudioPartStore, AudioSpoolHooks, AudioSpoolOptions, AudioStreamInfo, DiscardReason, PartRow, SegmentRef, SpooledPacket, StreamEnd, WrittenParts } from './audio-spool.ports';
export { partKey } from './audio-spool.ports';

/**
 * The audio path of the stream workers. Audio is 98 % of RTMS messages (one 20 ms packet
 * per participant, 50 per second each), far too many for one queue job or one database
 * transaction per packet or per stream. So every stream of a worker process appends its
 * packets here, and one write every `flushMs` stores all of them as parts — one per
 * (stream, participant, segment) — through the AudioPartStore (audio-spool.store.ts: the
 * PCM to a local spool file, the rows in one SQL statement). Once a participant's audio
 * has moved `SEGMENT_GRACE_MS` past a segment's end, that segment is handed over to be
 * written out as WAV (segmentsDue). The ports are in audio-spool.ports.ts, the in-memory
 * state and its grouping into parts in spool-groups.ts; this file schedules the flushes.
 *
 * A failed flush keeps its batch exactly as it was and writes it again first on the next
 * flush: parts are unique per (segment, first packet, last packet), so a batch whose
 * commit succeeded but whose answer was lost adds nothing the second time. A batch that
 * failed is written in a statement of its own, never again with new audio, so a batch the
 * database keeps refusing (a value it cannot take) cannot fail every flush of the process:
 * it is split until the group at fault is alone, and that group is given up after
 * QUARANTINE_AFTER failures (retryFailed).
 */

/** Spool writes that may run at once (each is one file write and one SQL statement). */
const MAX_WRITES_IN_FLIGHT = 2;

export { SEGMENT_GRACE_MS } from './spool-groups';

/** A group whose write fails alone this many times, while the database takes other writes, is given up (`write_refused`). */
export const QUARANTINE_AFTER = 5;

/**
 * Whether an error says the database refused the values rather than that it could not be
 * reached: a Postgres data exception (SQLSTATE class 22: "invalid input syntax for type
 * bigint", "out of range"), or a RangeError thrown by a check before the query.
 */
function refusedValues(err: unknown): boolean {
  if (err instanceof RangeError) return true;
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.code ?? e?.driverError?.code;
  return typeof code === 'string' && code.startsWith('22');
}

/** A group's packets' PCM back to back: one part, as it goes to the spool file and stays for the WAV. */
function joinPcm(packets: SpooledPacket[]): Buffer {
  return Buffer.concat(packets.map((p) => p.pcm));
}

/** One per worker process; shared by all its streams. */
export class AudioSpool {
  private readonly logger = new Logger(AudioSpool.name);
  private readonly streams = new Map<string, StreamState>();
  /** Batches whose write failed, each written again (unchanged) in a statement of its own, before anything newer. */
  private retry: Group[][] = [];
  private waitingBytes = 0;
  /** PCM of written parts kept for writing their segments, within opts.cacheMaxBytes. */
  private readonly cache: PcmCache;
  private timer: NodeJS.Timeout | null = null;
  /** Writes started and not finished (running, or waiting for a slot). */
  private readonly inFlight = new Set<Promise<boolean>>();
  private freeSlots = MAX_WRITES_IN_FLIGHT;
  private readonly slotWaiters: Array<() => void> = [];
  /** Groups being written, by segment key: such a segment is not handed over or forgotten yet. */
  private readonly inFlightSegments = new Map<string, number>();
  private flushRequested = false;
  private droppedLogged = 0;

  constructor(
    private readonly store: AudioPartStore,
    private readonly hooks: AudioSpoolHooks,
    private readonly opts: AudioSpoolOptions,
  ) {
    this.cache = new PcmCache(opts.cacheMaxBytes ?? Number.POSITIVE_INFINITY);
  }

  /** Starts spooling a stream's audio. Opening a stream that is already open returns the same handle. */
  open(info: AudioStreamInfo): AudioSpoolStream {
    let s = this.streams.get(info.rtmsStreamId);
    if (!s || s.ended) {
      // A stream ended here and taken up again (hand-over back to this process) starts afresh;
      // its earlier state, if still flushing, goes on under the old object.
      s = { info, users: new Map(), pending: 0, ended: null };
      this.streams.set(info.rtmsStreamId, s);
    }
    s.handles = (s.handles ?? 0) + 1;
    if (!this.timer) {
      this.timer = setInterval(() => {
        if (this.inFlight.size < MAX_WRITES_IN_FLIGHT) void this.startWrite();
      }, this.opts.flushMs);
      this.timer.unref();
    }
    return new AudioSpoolStream(this, s);
  }

  get bufferedBytes(): number {
    return this.waitingBytes;
  }

  get cachedPcmBytes(): number {
    return this.cache.bytes;
  }

  /** Cached parts evicted past the budget so far (their WAVs read them from the spool file). */
  get evictedParts(): number {
    return this.cache.evicted;
  }

  /** @internal via AudioSpoolStream */
  append(s: StreamState, userId: string, userName: string | null, packet: SpooledPacket): boolean {
    if (s.ended) return false;
    if (!isMediaTimestamp(packet.ts)) {
      // The parser refuses these (bad_timestamp); one that got here anyway would fail the flush of every stream.
      this.hooks.discarded('bad_timestamp', 1);
      return false;
    }
    if (this.waitingBytes + packet.pcm.length > this.opts.maxBufferedBytes) {
      this.hooks.discarded('spool_full', 1);
      if (this.droppedLogged++ % 1000 === 0) {
        this.logger.error(`Audio spool full (${this.waitingBytes} bytes waiting for the database); dropping audio of stream ${s.info.rtmsStreamId}`);
      }
      return false;
    }
    let u = s.users.get(userId);
    if (!u) {
      if (s.users.size >= MAX_TRACKED_PARTICIPANTS) {
        // A hostile or broken peer inventing user ids: no per-user state past the cap.
        this.hooks.discarded('participant_cap', 1);
        return false;
      }
      u = { userName, maxTs: 0, clockTs: Number.NEGATIVE_INFINITY, jumpTs: null, waiting: [], segments: new Map(), seen: new Map() };
      s.users.set(userId, u);
    }
    if (userName && !u.userName) u.userName = userName;
    const segStart = segmentStart(packet.ts, s.info.segmentMs);
    const erasedThrough = s.erasedThrough?.get(userId);
    if (erasedThrough !== undefined && segStart <= erasedThrough) {
      this.hooks.discarded('erased', 1);
      return false;
    }
    let seen = u.seen.get(segStart);
    if (!seen) {
      seen = new SeenOffsets(s.info.segmentMs);
      u.seen.set(segStart, seen);
      // Only the last few segments can still get packets worth checking.
      for (const k of u.seen.keys()) if (k < segStart - 2 * s.info.segmentMs) u.seen.delete(k);
    }
    // The offset in the segment (0 ≤ offset < segmentMs): Zoom's timestamps are whole ms.
    const offset = packet.ts - segStart;
    if (!seen.mark(offset)) return false;
    u.waiting.push(packet);
    if (packet.ts > u.maxTs) u.maxTs = packet.ts;
    advanceClock(u, packet.ts);
    s.pending += 1;
    this.waitingBytes += packet.pcm.length;
    if (this.waitingBytes >= this.opts.flushBytes && !this.flushRequested) {
      this.flushRequested = true;
      void this.startWrite();
    }
    return true;
  }

  /**
   * Writes everything appended so far, and waits for the writes already under way.
   * Resolves true when it all is durable, false when a write failed and will be retried.
   */
  flush(): Promise<boolean> {
    const earlier = [...this.inFlight];
    const mine = this.startWrite();
    return Promise.all([...earlier, mine]).then((results) => results.every(Boolean));
  }

  /**
   * One write of what is waiting. Up to MAX_WRITES_IN_FLIGHT run at once, so one slow
   * database round trip does not hold back the audio that arrives meanwhile.
   */
  private startWrite(): Promise<boolean> {
    const write = (async () => {
      if (this.freeSlots > 0) this.freeSlots--;
      else await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
      try {
        return await this.flushNow();
      } finally {
        const next = this.slotWaiters.shift();
        if (next) next();
        else this.freeSlots++;
      }
    })();
    this.inFlight.add(write);
    void write.finally(() => this.inFlight.delete(write));
    return write;
  }

  /** @internal via AudioSpoolStream */
  async end(s: StreamState, how: StreamEnd): Promise<void> {
    s.handles = Math.max(0, (s.handles ?? 1) - 1);
    // A later run of the stream holds it too (taken up here before this one wound down,
    // after a lost lease): leaving the segments open is all 'keep' means, and ending the
    // state would refuse that run's audio. What this run appended is written as usual.
    if (how === 'keep' && s.handles > 0) {
      await this.flush();
      return;
    }
    if (how === 'discard') {
      const n = this.dropStream(s);
      if (n > 0) this.hooks.discarded('revoked', n);
      s.ended = 'discard';
      if (this.streams.get(s.info.rtmsStreamId) === s) this.streams.delete(s.info.rtmsStreamId);
      return;
    }
    s.ended = how;
    // Retries happen on the timer if this fails; the stream is finished off once written.
    await this.flush();
  }

  /**
   * @internal via AudioSpoolStream. Erasure by participant: drops what this process holds
   * of the user's audio (packets waiting, batches to retry, written parts kept for the
   * WAV) and refuses the rest of their current segment window, so nothing of them spooled
   * before the erasure is written out as WAV here. Parts already in Postgres are the
   * erasure job's to delete (it locks and deletes the segments). Returns how many of the
   * user's segment windows were dropped.
   */
  eraseUser(s: StreamState, userId: string): number {
    const u = s.users.get(userId);
    let latest = -1;
    for (const other of s.users.values()) latest = Math.max(latest, other.maxTs);
    if (latest < 0) return 0;
    const through = segmentStart(latest, s.info.segmentMs);
    (s.erasedThrough ??= new Map()).set(userId, Math.max(through, s.erasedThrough.get(userId) ?? -1));
    const windows = new Set<number>();
    let packets = 0;
    if (u) {
      for (const p of u.waiting) {
        this.waitingBytes -= p.pcm.length;
        windows.add(segmentStart(p.ts, s.info.segmentMs));
      }
      packets += u.waiting.length;
      s.pending = Math.max(0, s.pending - u.waiting.length);
      u.waiting = [];
      for (const [segStart, seg] of u.segments) {
        this.cache.release(seg);
        windows.add(segStart);
      }
      u.segments.clear();
    }
    this.retry = this.retry
      .map((batch) =>
        batch.filter((g) => {
          if (g.stream !== s || g.userId !== userId) return true;
          packets += g.packets.length;
          windows.add(g.segStart);
          g.settled = true;
          s.pending = Math.max(0, s.pending - g.packets.length);
          for (const p of g.packets) this.waitingBytes -= p.pcm.length;
          return false;
        }),
      )
      .filter((batch) => batch.length > 0);
    if (packets > 0) this.hooks.discarded('erased', packets);
    return windows.size;
  }

  /** Final attempt at shutdown: whatever cannot be written now is lost, and said so. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const s of this.streams.values()) if (!s.ended) s.ended = 'keep';
    for (let i = 0; i < 3 && this.pendingPackets() > 0; i++) {
      if (await this.flush()) break;
      await new Promise((r) => setTimeout(r, 200 * (i + 1)));
    }
    const lost = this.pendingPackets();
    if (lost > 0) {
      this.hooks.discarded('shutdown', lost);
      this.logger.error(`Shutdown: ${lost} audio packet(s) could not be written to the database and are lost`);
    }
  }

  pendingPackets(): number {
    let n = 0;
    for (const batch of this.retry) for (const g of batch) n += g.packets.length;
    for (const s of this.streams.values()) for (const u of s.users.values()) n += u.waiting.length;
    return n;
  }

  /**
   * One write of what is waiting: the batches that failed before, each in a statement of
   * its own, then the new audio in one more. True when none of it is left to retry.
   */
  private async flushNow(): Promise<boolean> {
    this.flushRequested = false;
    const fresh = cutWaiting(this.streams.values());
    const batches = fresh.length > 0 ? [...this.retry, fresh] : this.retry;
    this.retry = [];
    const failed: Array<{ groups: Group[]; err: unknown }> = [];
    if (batches.length > 0) {
      const keys = batches.flat().map(groupKey);
      for (const k of keys) this.inFlightSegments.set(k, (this.inFlightSegments.get(k) ?? 0) + 1);
      // Some batch of this flush was written: the database takes writes.
      let answered = false;
      try {
        for (const groups of batches) {
          const started = Date.now();
          try {
            await this.write(groups);
            answered = true;
            this.hooks.flushed(Date.now() - started, groups.reduce((a, g) => a + g.packets.length, 0));
          } catch (err) {
            // Groups already dropped in this write (their session is gone) are not retried.
            const left = groups.filter((g) => !g.settled);
            if (left.length > 0) failed.push({ groups: left, err });
          }
        }
      } finally {
        for (const k of keys) {
          const n = (this.inFlightSegments.get(k) ?? 1) - 1;
          if (n > 0) this.inFlightSegments.set(k, n);
          else this.inFlightSegments.delete(k);
        }
      }
      if (failed.length > 0) {
        this.hooks.flushFailed(failed[0].err);
        this.retryFailed(failed, answered);
      }
    }
    await this.afterWrite();
    return failed.every((f) => f.groups.every((g) => g.settled));
  }

  /**
   * Keeps failed batches for the next flush, unchanged. A batch that failed while another
   * write of the same flush went through (or that the database refused for its values)
   * holds something the database will not take: it is split in two, each half written on
   * its own, until the group at fault is alone; a group that fails alone QUARANTINE_AFTER
   * times is given up — settled, counted as discarded (`write_refused`) and logged — instead
   * of failing the flushes of every stream for good. Batches that failed with nothing
   * going through (the database is down) are kept together, as one statement.
   */
  private retryFailed(failed: Array<{ groups: Group[]; err: unknown }>, answered: boolean): void {
    const together: Group[] = [];
    for (const { groups, err } of failed) {
      if (!answered && !refusedValues(err)) together.push(...groups);
      else if (groups.length > 1) {
        const half = Math.ceil(groups.length / 2);
        this.retry.push(groups.slice(0, half), groups.slice(half));
      } else {
        const g = groups[0];
        g.failures = (g.failures ?? 0) + 1;
        if (g.failures < QUARANTINE_AFTER) this.retry.push(groups);
        else this.quarantine(g, err);
      }
    }
    if (together.length > 0) this.retry.push(together);
  }

  private quarantine(g: Group, err: unknown): void {
    this.settle([g]);
    this.hooks.discarded('write_refused', g.packets.length);
    const ts = `${g.packets[0].ts}–${g.packets[g.packets.length - 1].ts}`;
    this.logger.error(
      `Audio of stream ${g.stream.info.rtmsStreamId}, user ${g.userId}, segment ${g.segStart} (${g.packets.length} packet(s), ts ${ts}) could not be written ${g.failures} times while other audio was: given up (write_refused): ${errorMessage(err)}`,
    );
  }

  private async write(all: Group[]): Promise<void> {
    // Batches cut before their participant was erased are not written.
    const erased = all.filter(isErasedGroup);
    if (erased.length > 0) {
      this.settle(erased);
      this.hooks.discarded('erased', erased.reduce((a, g) => a + g.packets.length, 0));
    }
    const groups = erased.length > 0 ? all.filter((g) => !isErasedGroup(g)) : all;
    const missing = segmentsToEnsure(groups);
    let writable = groups;
    if (missing.length > 0) {
      const ids = await this.store.ensureSegments(missing);
      const gone: Group[] = [];
      for (const g of groups) {
        if (g.segmentId) continue;
        g.segmentId = ids.get(groupKey(g)) ?? null;
        if (!g.segmentId) gone.push(g);
      }
      if (gone.length > 0) {
        this.settle(gone);
        this.hooks.discarded('session_deleted', gone.reduce((a, g) => a + g.packets.length, 0));
        writable = groups.filter((g) => g.segmentId);
      }
    }
    const now = Date.now();
    const touching: SegmentState[] = [];
    const rows: PartRow[] = writable.map((g) => {
      const seg = segmentOf(g);
      const touch = !seg.touching && (g.segmentId !== seg.id || now - seg.touchedAt >= this.opts.touchEveryMs);
      if (touch) {
        seg.touching = true;
        touching.push(seg);
      }
      return { segmentId: g.segmentId!, packets: g.packets, pcm: joinPcm(g.packets), touch };
    });
    let result: AppendResult;
    try {
      result = rows.length > 0 ? await this.store.appendParts(rows) : { vanished: new Set<string>(), sealed: new Set<string>() };
    } finally {
      for (const seg of touching) seg.touching = false;
    }
    const written: SpooledPacket[] = [];
    let late = 0;
    let vanished = 0;
    let erasedMeanwhile = 0;
    for (const [i, g] of writable.entries()) {
      if (result.vanished.has(g.segmentId!)) {
        vanished += g.packets.length;
        continue;
      }
      if (isErasedGroup(g)) {
        // Erased while this write was under way: its parts are in Postgres, where the
        // erasure's re-check deletes them; nothing of it is kept here for a WAV.
        erasedMeanwhile += g.packets.length;
        continue;
      }
      if (result.sealed.has(g.segmentId!)) {
        // Its WAV is final and its parts pruned: the store did not take the part (it would
        // pin its spool file until the session is deleted). Late audio, counted as such.
        late += g.packets.length;
        continue;
      }
      const seg = segmentOf(g);
      seg.id = g.segmentId;
      if (rows[i].touch) seg.touchedAt = now;
      seg.writtenAt = now;
      // The buffer the spool file got: kept for the WAV (no second copy), within the budget.
      this.cache.add(seg, partKey(g.packets[0].ts, g.packets[g.packets.length - 1].ts), rows[i].pcm!);
      written.push(...g.packets);
    }
    this.settle(writable);
    if (vanished > 0) this.hooks.discarded('session_deleted', vanished);
    if (erasedMeanwhile > 0) this.hooks.discarded('erased', erasedMeanwhile);
    if (late > 0) this.hooks.late(late);
    if (written.length > 0) this.hooks.saved(written, Date.now());
  }

  /** These groups are done with (written or discarded). */
  private settle(groups: Group[]): void {
    for (const g of groups) {
      g.settled = true;
      // (A discarded stream's pending was zeroed while this write was in flight.)
      g.stream.pending = Math.max(0, g.stream.pending - g.packets.length);
      for (const p of g.packets) this.waitingBytes -= p.pcm.length;
    }
  }

  /**
   * Segments every participant has moved past are handed over to be written out, with the
   * parts this process wrote of them; ended streams are finished off. A segment nobody
   * has written to for `cacheIdleMs` (the participant went quiet) is forgotten here: the
   * idle sweep writes it out from the spool file.
   */
  private async afterWrite(): Promise<void> {
    const due: Array<{ id: string; parts: WrittenParts; spreadMs: number }> = [];
    const finished: StreamState[] = [];
    const now = Date.now();
    // Segments with a batch waiting to be written again are not complete yet.
    const retrying = new Set(this.retry.flat().map(groupKey));
    for (const s of this.streams.values()) {
      const finalizeAll = s.ended === 'finalize' && s.pending === 0;
      const dropAll = s.ended !== null && s.pending === 0;
      for (const [userId, u] of s.users) {
        for (const [segStart, seg] of u.segments) {
          const key = segKey(s.info.rtmsStreamId, userId, segStart);
          if (this.inFlightSegments.has(key) || retrying.has(key)) continue;
          const complete = finalizeAll || segStart + s.info.segmentMs + SEGMENT_GRACE_MS <= u.clockTs;
          // Every segment of every stream ends at the same moment on Zoom's clock (and many
          // streams may stop together): their writing is spread over part of a segment.
          if (complete && seg.id) due.push({ id: seg.id, parts: seg.parts, spreadMs: Math.floor(s.info.segmentMs * 0.6) });
          if (complete || dropAll || (seg.writtenAt > 0 && now - seg.writtenAt > this.opts.cacheIdleMs)) {
            this.cache.release(seg);
            u.segments.delete(segStart);
          }
        }
      }
      if (dropAll) finished.push(s);
    }
    for (const s of finished) if (this.streams.get(s.info.rtmsStreamId) === s) this.streams.delete(s.info.rtmsStreamId);
    if (this.streams.size === 0 && this.timer && this.retry.length === 0) {
      clearInterval(this.timer);
      this.timer = null;
    }
    if (due.length === 0) return;
    try {
      await this.hooks.segmentsDue(due);
    } catch (err) {
      // Not lost: the idle sweeper writes out open segments nobody extends.
      this.logger.warn(`Could not hand over ${due.length} audio segment(s) to be written; the idle sweep will: ${errorMessage(err)}`);
    }
  }

  private dropStream(s: StreamState): number {
    let n = 0;
    for (const u of s.users.values()) {
      for (const p of u.waiting) this.waitingBytes -= p.pcm.length;
      n += u.waiting.length;
      u.waiting = [];
    }
    this.retry = this.retry
      .map((batch) =>
        batch.filter((g) => {
          if (g.stream !== s) return true;
          n += g.packets.length;
          for (const p of g.packets) this.waitingBytes -= p.pcm.length;
          return false;
        }),
      )
      .filter((batch) => batch.length > 0);
    s.pending = 0;
    for (const u of s.users.values()) {
      for (const seg of u.segments.values()) this.cache.release(seg);
      u.segments.clear();
    }
    return n;
  }
}

/** A stream's handle on the spool. */
export class AudioSpoolStream {
  constructor(
    private readonly spool: AudioSpool,
    private readonly state: StreamState,
  ) {}

  /** Spools one packet (PCM as received). False when it was a duplicate, the stream ended, or the spool is full. */
  append(userId: string, userName: string | null, packet: SpooledPacket): boolean {
    if (packet.pcm.length === 0) return false;
    return this.spool.append(this.state, userId, userName, packet);
  }

  /**
   * The stream ended. 'finalize': write out all its segments (stopped or failed);
   * 'keep': leave them open for whoever continues the stream (hand-over, lease lost);
   * 'discard': drop what is not written yet (stream revoked, its media is being deleted).
   */
  end(how: StreamEnd): Promise<void> {
    return this.spool.end(this.state, how);
  }

  /** Erasure by participant: drop the user's spooled audio up to their current segment (AudioSpool.eraseUser). */
  eraseUser(userId: string): number {
    return this.spool.eraseUser(this.state, userId);
  }

  get pending(): number {
    return this.state.pending;
  }
}
