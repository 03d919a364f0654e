import { MAX_TRACKED_PARTICIPANTS } from '../stream/participant-cap';
import { AppendResult, AudioPartStore, AudioSpool, AudioSpoolHooks, PartRow, partKey, SEGMENT_GRACE_MS, SegmentRef, WrittenParts } from './audio-spool';

/** An in-memory store that behaves like the Postgres one: parts unique per (segment, first, last). */
class FakeStore implements AudioPartStore {
  readonly segments = new Map<string, { ref: SegmentRef; status: string }>();
  readonly parts = new Map<string, PartRow>();
  readonly deletedSessions = new Set<string>();
  failNext = 0;
  /** When set, appendParts waits for it (a slow database). */
  gate: Promise<void> | null = null;
  inFlight = 0;
  maxInFlight = 0;
  commitThenFail = false;
  appendCalls = 0;

  async ensureSegments(refs: SegmentRef[]): Promise<Map<string, string>> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('database down');
    }
    const out = new Map<string, string>();
    for (const r of refs) {
      if (this.deletedSessions.has(r.sessionId)) continue;
      if (!this.segments.has(r.key)) this.segments.set(r.key, { ref: r, status: 'open' });
      out.set(r.key, r.key);
    }
    return out;
  }

  async appendParts(rows: PartRow[]): Promise<AppendResult> {
    this.appendCalls++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.gate) await this.gate;
      return await this.appendNow(rows);
    } finally {
      this.inFlight--;
    }
  }

  private async appendNow(rows: PartRow[]): Promise<AppendResult> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('database down');
    }
    const vanished = new Set<string>();
    const sealed = new Set<string>();
    for (const r of rows) {
      const seg = this.segments.get(r.segmentId);
      if (!seg) {
        vanished.add(r.segmentId);
        continue;
      }
      if (seg.status === 'sealed') sealed.add(r.segmentId);
      this.parts.set(`${r.segmentId}|${r.packets[0].ts}|${r.packets[r.packets.length - 1].ts}`, r);
    }
    if (this.commitThenFail) {
      this.commitThenFail = false;
      throw new Error('connection lost after commit');
    }
    return { vanished, sealed };
  }

  packetTs(segmentId: string): number[] {
    return [...this.parts.values()].filter((p) => p.segmentId === segmentId).flatMap((p) => p.packets.map((x) => x.ts)).sort((a, b) => a - b);
  }
}

function hooks() {
  const h = {
    due: [] as string[],
    dueParts: [] as WrittenParts[],
    saved: 0,
    discarded: {} as Record<string, number>,
    late: 0,
    failures: 0,
  };
  const impl: AudioSpoolHooks = {
    segmentsDue: async (segs) => {
      h.due.push(...segs.map((x) => x.id));
      h.dueParts.push(...segs.map((x) => x.parts));
    },
    saved: (p) => void (h.saved += p.length),
    discarded: (reason, n) => void (h.discarded[reason] = (h.discarded[reason] ?? 0) + n),
    late: (n) => void (h.late += n),
    flushFailed: () => void h.failures++,
    flushed: () => undefined,
  };
  return { h, impl };
}

const opts = { flushMs: 60_000, flushBytes: 1e9, maxBufferedBytes: 1e9, touchEveryMs: 1000, cacheIdleMs: 60_000 };
const info = (rtmsStreamId = 'st1', sessionId = 'sess1') => ({ sessionId, rtmsStreamId, segmentMs: 1000, sampleRate: 16000, channels: 1 });
const pkt = (ts: number) => ({ ts, pcm: Buffer.alloc(640, ts % 251), receivedAt: Date.now() });

describe('AudioSpool', () => {
  it('writes all streams in one flush, one part per (stream, user, segment), packets in timestamp order', async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    const a = spool.open(info('st1'));
    const b = spool.open(info('st2'));
    for (const ts of [980, 1000, 960, 1020]) a.append('7', 'Ann', pkt(ts));
    b.append('8', 'Bob', pkt(1000));
    expect(spool.bufferedBytes).toBe(5 * 640);
    expect(await spool.flush()).toBe(true);
    expect(store.appendCalls).toBe(1);
    expect(store.packetTs('st1|7|0')).toEqual([960, 980]);
    expect(store.packetTs('st1|7|1000')).toEqual([1000, 1020]);
    expect(store.packetTs('st2|8|1000')).toEqual([1000]);
    expect(store.segments.get('st1|7|0')!.ref).toMatchObject({ sessionId: 'sess1', userName: 'Ann', segmentMs: 1000, sampleRate: 16000 });
    expect(h.saved).toBe(5);
    expect(spool.bufferedBytes).toBe(0);
    expect(a.pending).toBe(0);
    await spool.close();
  });

  it('keeps a packet Zoom sends twice once', async () => {
    const store = new FakeStore();
    const spool = new AudioSpool(store, hooks().impl, opts);
    const a = spool.open(info());
    expect(a.append('7', 'Ann', pkt(100))).toBe(true);
    await spool.flush();
    expect(a.append('7', 'Ann', pkt(100))).toBe(false);
    expect(a.append('7', 'Ann', pkt(120))).toBe(true);
    await spool.flush();
    expect(store.packetTs('st1|7|0')).toEqual([100, 120]);
    await spool.close();
  });

  it('hands a segment to the savers once every packet of it is written and the audio is past its end plus the grace', async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    const a = spool.open(info());
    a.append('7', 'Ann', pkt(500));
    a.append('7', 'Ann', pkt(1000 + SEGMENT_GRACE_MS - 20));
    await spool.flush();
    expect(h.due).toEqual([]);
    a.append('7', 'Ann', pkt(1000 + SEGMENT_GRACE_MS));
    await spool.flush();
    expect(h.due).toEqual(['st1|7|0']);
    // The PCM of the parts it wrote goes along, so writing the WAV reads no file.
    expect([...h.dueParts[0].keys()]).toEqual([partKey(500, 500)]);
    expect(h.dueParts[0].get(partKey(500, 500))).toEqual(pkt(500).pcm);
    expect(spool.cachedPcmBytes).toBe(640 * 2); // the two later packets' segments are still open
    await spool.close();
  });

  it('forgets a segment nobody wrote to for cacheIdleMs (the sweep writes it from the file)', async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, { ...opts, cacheIdleMs: 0 });
    const a = spool.open(info());
    a.append('7', 'Ann', pkt(100));
    await spool.flush();
    // The next flush runs 5 ms later on the spool's clock: past cacheIdleMs.
    const later = Date.now() + 5;
    const clock = jest.spyOn(Date, 'now').mockReturnValue(later);
    try {
      await spool.flush();
    } finally {
      clock.mockRestore();
    }
    expect(spool.cachedPcmBytes).toBe(0);
    expect(h.due).toEqual([]);
    await spool.close();
  });

  it('a failed write keeps its batch unchanged and writes it again first; a write whose answer was lost adds nothing twice', async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    const a = spool.open(info());
    a.append('7', 'Ann', pkt(100));
    a.append('7', 'Ann', pkt(120));
    store.commitThenFail = true;
    expect(await spool.flush()).toBe(false);
    expect(h.failures).toBe(1);
    expect(a.pending).toBe(2);
    a.append('7', 'Ann', pkt(140));
    store.failNext = 1;
    expect(await spool.flush()).toBe(false);
    expect(await spool.flush()).toBe(true);
    // The first batch was written again as it was ([100, 120]), the new packet as its own part.
    expect([...store.parts.keys()].sort()).toEqual(['st1|7|0|100|120', 'st1|7|0|140|140']);
    expect(store.packetTs('st1|7|0')).toEqual([100, 120, 140]);
    expect(a.pending).toBe(0);
    expect(spool.bufferedBytes).toBe(0);
    await spool.close();
  });

  it('keeps per-user state for at most MAX_TRACKED_PARTICIPANTS users per stream; audio of new ids beyond is dropped and counted', async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    const s = spool.open(info());
    for (let u = 0; u < MAX_TRACKED_PARTICIPANTS; u++) expect(s.append(String(u), null, pkt(1000))).toBe(true);
    for (let u = 0; u < 20_000; u++) expect(s.append(`x${u}`, null, pkt(1000))).toBe(false);
    expect(h.discarded.participant_cap).toBe(20_000);
    expect(s.append('5', null, pkt(1100))).toBe(true);
    await spool.close();
  });

  it('drops and counts audio beyond the buffer limit while the database is down', async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, { ...opts, maxBufferedBytes: 2 * 640 });
    const a = spool.open(info());
    expect(a.append('7', 'Ann', pkt(100))).toBe(true);
    expect(a.append('7', 'Ann', pkt(120))).toBe(true);
    expect(a.append('7', 'Ann', pkt(140))).toBe(false);
    expect(h.discarded).toEqual({ spool_full: 1 });
    await spool.close();
  });

  it('audio of a deleted session is discarded and counted, not retried forever', async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    store.deletedSessions.add('gone');
    const a = spool.open(info('st9', 'gone'));
    a.append('7', 'Ann', pkt(100));
    expect(await spool.flush()).toBe(true);
    expect(h.discarded).toEqual({ session_deleted: 1 });
    expect(a.pending).toBe(0);
    // A segment deleted after its id was learned (stream purged) is also dropped.
    const b = spool.open(info('st1'));
    b.append('7', 'Ann', pkt(100));
    await spool.flush();
    store.segments.delete('st1|7|0');
    b.append('7', 'Ann', pkt(120));
    await spool.flush();
    expect(h.discarded).toEqual({ session_deleted: 2 });
    await spool.close();
  });

  it("a write that fails after dropping a deleted session's audio retries only the rest, counting each packet once", async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    store.deletedSessions.add('gone');
    spool.open(info('st9', 'gone')).append('7', 'Ann', pkt(100));
    const live = spool.open(info('st1'));
    live.append('7', 'Ann', pkt(100));
    const append = store.appendParts.bind(store);
    let fail = true;
    store.appendParts = async (rows) => {
      if (fail) {
        fail = false;
        throw new Error('database down');
      }
      return append(rows);
    };
    expect(await spool.flush()).toBe(false);
    expect(await spool.flush()).toBe(true);
    expect(h.discarded).toEqual({ session_deleted: 1 });
    expect(store.packetTs('st1|7|0')).toEqual([100]);
    expect(spool.bufferedBytes).toBe(0);
    expect(spool.pendingPackets()).toBe(0);
    await spool.close();
  });

    it('counts packets for sealed segments as late', async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    const a = spool.open(info());
    a.append('7', 'Ann', pkt(100));
    await spool.flush();
    store.segments.get('st1|7|0')!.status = 'sealed';
    a.append('7', 'Ann', pkt(120));
    await spool.flush();
    expect(h.late).toBe(1);
    await spool.close();
  });

  it("end: 'finalize' writes out every segment, 'keep' leaves them open, 'discard' drops what is not written", async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    const done = spool.open(info('st1'));
    done.append('7', 'Ann', pkt(100));
    done.append('7', 'Ann', pkt(1100));
    await done.end('finalize');
    expect(h.due.sort()).toEqual(['st1|7|0', 'st1|7|1000']);
    expect(done.append('7', 'Ann', pkt(1200))).toBe(false); // ended

    const handed = spool.open(info('st2'));
    handed.append('7', 'Ann', pkt(100));
    await handed.end('keep');
    expect(store.packetTs('st2|7|0')).toEqual([100]);
    expect(h.due).not.toContain('st2|7|0');

    const revoked = spool.open(info('st3'));
    revoked.append('7', 'Ann', pkt(100));
    await revoked.end('discard');
    expect(h.discarded).toEqual({ revoked: 1 });
    await spool.flush();
    expect(store.packetTs('st3|7|0')).toEqual([]);
    expect(spool.pendingPackets()).toBe(0);
    await spool.close();
  });

  it("a run that ends with 'keep' after a later run of the same stream took it up in this process does not end the later one's audio", async () => {
    // A lost lease: the stream is put back in the queue and taken up again here while the
    // earlier run still winds down (its Redis or Postgres writes waiting); its 'keep' comes last.
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    const earlier = spool.open(info('st1'));
    earlier.append('7', 'Ann', pkt(100));
    const later = spool.open(info('st1'));
    await earlier.end('keep');
    expect(later.append('7', 'Ann', pkt(120))).toBe(true);
    await spool.flush();
    expect(store.packetTs('st1|7|0')).toEqual([100, 120]);
    // The later run's own end still ends the stream.
    await later.end('finalize');
    expect(h.due).toEqual(['st1|7|0']);
    expect(later.append('7', 'Ann', pkt(1100))).toBe(false);
    await spool.close();
  });

  it('a slow write does not hold back the next one (two in flight at most); segments wait for their writes', async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    const a = spool.open(info());
    let open!: () => void;
    store.gate = new Promise<void>((r) => (open = r));
    a.append('7', 'Ann', pkt(100));
    const first = spool.flush();
    a.append('7', 'Ann', pkt(1000 + SEGMENT_GRACE_MS)); // completes segment 0 — but its part is still being written
    const second = spool.flush();
    a.append('7', 'Ann', pkt(1000 + SEGMENT_GRACE_MS + 20));
    const third = spool.flush();
    await new Promise((r) => setImmediate(r));
    expect(store.inFlight).toBe(2);
    expect(h.due).toEqual([]);
    open();
    expect(await Promise.all([first, second, third])).toEqual([true, true, true]);
    expect(store.maxInFlight).toBe(2);
    expect(h.due).toEqual(['st1|7|0']);
    expect(h.dueParts[0].has(partKey(100, 100))).toBe(true);
    await spool.close();
  });

  it('two writes at once never both refresh the same segment (they would queue on its row)', async () => {
    const store = new FakeStore();
    const touched: string[][] = [];
    const append = store.appendParts.bind(store);
    store.appendParts = (rows) => {
      touched.push(rows.filter((r) => r.touch).map((r) => r.segmentId));
      return append(rows);
    };
    // touchEveryMs 0: every write would refresh every segment it writes to.
    const spool = new AudioSpool(store, hooks().impl, { ...opts, touchEveryMs: 0 });
    const a = spool.open(info());
    let open!: () => void;
    store.gate = new Promise<void>((r) => (open = r));
    a.append('7', 'Ann', pkt(100));
    a.append('8', 'Bob', pkt(100));
    const first = spool.flush();
    await new Promise((r) => setImmediate(r));
    a.append('7', 'Ann', pkt(120));
    a.append('8', 'Bob', pkt(120));
    const second = spool.flush();
    await new Promise((r) => setImmediate(r));
    expect(store.inFlight).toBe(2);
    open();
    expect(await Promise.all([first, second])).toEqual([true, true]);
    expect(touched).toEqual([['st1|7|0', 'st1|8|0'], []]);
    // Once the first write is done, the next one refreshes them again.
    a.append('7', 'Ann', pkt(140));
    await spool.flush();
    expect(touched[2]).toEqual(['st1|7|0']);
    await spool.close();
  });

  it('erasing a participant drops their waiting and cached audio and the rest of their current window, never handing it over; others and later windows go on', async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    const a = spool.open(info());
    a.append('7', 'Ann', pkt(100));
    a.append('8', 'Bob', pkt(100));
    await spool.flush();
    a.append('7', 'Ann', pkt(120));
    a.append('8', 'Bob', pkt(120));
    expect(spool.cachedPcmBytes).toBe(2 * 640);
    // Bob's segment of window 0 is cached (written part) and has a packet waiting: one window.
    expect(a.eraseUser('8')).toBe(1);
    expect(h.discarded).toEqual({ erased: 1 });
    expect(spool.cachedPcmBytes).toBe(640);
    expect(a.pending).toBe(1);
    // The rest of Bob's current window is refused; Ann is untouched.
    expect(a.append('8', 'Bob', pkt(140))).toBe(false);
    expect(a.append('7', 'Ann', pkt(140))).toBe(true);
    await spool.flush();
    expect(store.packetTs('st1|8|0')).toEqual([100]); // what was already in Postgres is the erasure job's to delete
    expect(store.packetTs('st1|7|0')).toEqual([100, 120, 140]);
    // A later window of Bob is new capture.
    expect(a.append('8', 'Bob', pkt(1100))).toBe(true);
    // (Two packets: one alone, more than MAX_AHEAD_MS past Ann's audio, completes nothing.)
    a.append('7', 'Ann', pkt(1000 + SEGMENT_GRACE_MS));
    a.append('7', 'Ann', pkt(1020 + SEGMENT_GRACE_MS));
    await spool.flush();
    expect(h.due).toEqual(['st1|7|0']);
    expect(store.packetTs('st1|8|1000')).toEqual([1100]);
    expect(h.discarded).toEqual({ erased: 2 });
    await spool.close();
  });

  it('a batch of an erased participant cut before the erasure is not written, and one written meanwhile is not kept for a WAV', async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    const a = spool.open(info());
    a.append('8', 'Bob', pkt(100));
    store.failNext = 1;
    expect(await spool.flush()).toBe(false); // Bob's batch waits to be retried
    a.eraseUser('8');
    expect(await spool.flush()).toBe(true);
    expect(store.packetTs('st1|8|0')).toEqual([]);
    expect(spool.bufferedBytes).toBe(0);

    let open: () => void = () => undefined;
    a.append('7', 'Ann', pkt(200));
    store.gate = new Promise<void>((r) => (open = r));
    const writing = spool.flush();
    await new Promise((r) => setImmediate(r));
    a.eraseUser('7'); // while Ann's part is being written
    open();
    expect(await writing).toBe(true);
    expect(store.packetTs('st1|7|0')).toEqual([200]);
    expect(spool.cachedPcmBytes).toBe(0);
    expect(h.discarded).toEqual({ erased: 2 });
    await spool.close();
  });

  it('close() makes a last attempt and reports what could not be written', async () => {
    const store = new FakeStore();
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    spool.open(info()).append('7', 'Ann', pkt(100));
    store.failNext = 100;
    await spool.close();
    expect(h.discarded).toEqual({ shutdown: 1 });
  });
});
