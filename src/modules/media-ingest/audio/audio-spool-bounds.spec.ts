import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppendResult, AudioPartStore, AudioSpool, AudioSpoolHooks, PartRow, SegmentRef, SpooledPacket, WrittenParts } from './audio-spool';
import { AudioRig } from './audio-writer.spec-helper';

/**
 * What one stream, one participant or one bad value can cost the audio spool of a whole
 * worker process: a batch the database keeps refusing, a timestamp out of range or far
 * ahead, long segments, late packets for a sealed segment.
 */
const T0 = 1_750_690_000_000;
const pkt = (ts: number, bytes = 640): SpooledPacket => ({ ts, pcm: Buffer.alloc(bytes, ts % 251), receivedAt: Date.now() });
const info = (rtmsStreamId: string, segmentMs = 10_000) => ({ sessionId: `sess-${rtmsStreamId}`, rtmsStreamId, segmentMs, sampleRate: 16000, channels: 1 });
const opts = { flushMs: 1e9, flushBytes: 1 << 30, maxBufferedBytes: 1 << 30, touchEveryMs: 1000, cacheIdleMs: 1e9 };

function hooks(onDue?: (segs: Array<{ id: string; parts: WrittenParts }>) => Promise<void>) {
  const h = { due: [] as string[], saved: 0, late: 0, failures: 0, discarded: {} as Record<string, number> };
  const impl: AudioSpoolHooks = {
    segmentsDue: async (segs) => {
      h.due.push(...segs.map((s) => s.id));
      await onDue?.(segs);
    },
    saved: (p) => void (h.saved += p.length),
    discarded: (reason, n) => void (h.discarded[reason] = (h.discarded[reason] ?? 0) + n),
    late: (n) => void (h.late += n),
    flushFailed: () => void h.failures++,
    flushed: () => undefined,
  };
  return { h, impl };
}

/** An in-memory store whose statement fails when it holds a row of a refused user, or always while `down`. */
class RefusingStore implements AudioPartStore {
  readonly parts: PartRow[] = [];
  readonly statements: number[] = [];
  down = false;
  constructor(
    private readonly refused: (userKey: string) => boolean,
    private readonly error: () => Error = () => new Error('invalid input syntax for type bigint'),
  ) {}
  async ensureSegments(refs: SegmentRef[]): Promise<Map<string, string>> {
    if (this.down) throw new Error('connect ECONNREFUSED');
    return new Map(refs.map((r) => [r.key, r.key]));
  }
  async appendParts(rows: PartRow[]): Promise<AppendResult> {
    this.statements.push(rows.length);
    if (this.down) throw new Error('connect ECONNREFUSED');
    if (rows.some((r) => this.refused(r.segmentId))) throw this.error();
    this.parts.push(...rows);
    return { vanished: new Set(), sealed: new Set() };
  }
  packets(prefix: string): number {
    return this.parts.filter((r) => r.segmentId.startsWith(prefix)).reduce((n, r) => n + r.packets.length, 0);
  }
}

describe('AudioSpool bounds', () => {
  describe('a batch the database keeps refusing', () => {
    it('does not hold back the audio of other streams, and is given up (write_refused) once it fails alone while others are written', async () => {
      const store = new RefusingStore((seg) => seg.startsWith('bad|'));
      const { h, impl } = hooks();
      const spool = new AudioSpool(store, impl, opts);
      const good = spool.open(info('good'));
      const bad = spool.open(info('bad'));
      bad.append('9', 'x', pkt(T0 + 5)); // (a value Postgres refuses, whatever it is)
      let ts = T0;
      for (let round = 0; round < 12; round++) {
        for (let i = 0; i < 10; i++) good.append('1', 'alice', pkt((ts += 20)));
        await spool.flush();
        // The first flush had both streams in one statement, and failed. From the next on the
        // failed batch is retried on its own, so the new audio is written; the batch is then
        // split, and the good stream's first packets go through too.
        expect(store.packets('good|')).toBe([0, 10][round] ?? (round + 1) * 10);
      }
      expect(h.discarded).toEqual({ write_refused: 1 });
      expect(spool.pendingPackets()).toBe(0);
      expect(spool.bufferedBytes).toBe(0);
      expect(bad.pending).toBe(0);
      await spool.close();
    });

    it('inside one batch: split until the group at fault is alone; the others of its batch are written meanwhile', async () => {
      const store = new RefusingStore((seg) => seg === 'st|13|' + (T0 - (T0 % 10_000)));
      const { h, impl } = hooks();
      const spool = new AudioSpool(store, impl, opts);
      const s = spool.open(info('st'));
      for (let u = 0; u < 32; u++) s.append(String(u), null, pkt(T0 + u));
      expect(await spool.flush()).toBe(false);
      for (let i = 0; i < 20 && spool.pendingPackets() > 0; i++) {
        s.append('99', null, pkt(T0 + 1000 + i * 20)); // other audio keeps arriving
        await spool.flush();
      }
      expect(h.discarded).toEqual({ write_refused: 1 });
      expect(store.parts.filter((r) => !r.segmentId.startsWith('st|99|')).length).toBe(31);
      await spool.close();
    });

    it('while the database is down nothing is given up, and what waited is written once it is back, as one statement', async () => {
      const store = new RefusingStore(() => false);
      const { h, impl } = hooks();
      const spool = new AudioSpool(store, impl, opts);
      const s = spool.open(info('st'));
      store.down = true;
      for (let i = 0; i < 30; i++) {
        s.append('1', null, pkt(T0 + i * 20));
        s.append('2', null, pkt(T0 + i * 20));
        expect(await spool.flush()).toBe(false);
      }
      expect(h.discarded).toEqual({});
      store.down = false;
      store.statements.length = 0;
      expect(await spool.flush()).toBe(true);
      expect(store.statements).toEqual([60]); // every waiting batch together: one statement (a part per flush and user)
      expect(store.packets('st|')).toBe(60);
      await spool.close();
    });

    it('a lone batch the database refuses for its values (SQLSTATE class 22) is given up even with no other audio to compare with', async () => {
      const store = new RefusingStore(() => true, () => Object.assign(new Error('value out of range'), { code: '22003' }));
      const { h, impl } = hooks();
      const spool = new AudioSpool(store, impl, opts);
      spool.open(info('st')).append('1', null, pkt(T0));
      for (let i = 0; i < 10; i++) await spool.flush();
      expect(h.discarded).toEqual({ write_refused: 1 });
      expect(spool.pendingPackets()).toBe(0);
      await spool.close();
    });
  });

  it('a packet whose timestamp is not a media timestamp is refused at the door (bad_timestamp)', async () => {
    const store = new RefusingStore(() => false);
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    const s = spool.open(info('st'));
    for (const ts of [1e19, -1, 2 ** 47, 1.5]) expect(s.append('1', null, pkt(ts))).toBe(false);
    expect(h.discarded).toEqual({ bad_timestamp: 4 });
    expect(spool.pendingPackets()).toBe(0);
    await spool.close();
  });

  it('a packet stamped far ahead does not make the open segment complete: each segment is handed over once', async () => {
    const store = new RefusingStore(() => false);
    const { h, impl } = hooks();
    const spool = new AudioSpool(store, impl, opts);
    const s = spool.open(info('st'));
    const start = T0 - (T0 % 10_000);
    s.append('1', 'a', pkt(start + 86_400_000, 3200)); // a day ahead
    for (let i = 0; i < 300; i++) {
      s.append('1', 'a', pkt(start + i * 100, 3200));
      if (i === 150) s.append('1', 'a', pkt(start + 3_600_000, 3200)); // an hour ahead, mid-stream
      await spool.flush();
    }
    // 30 s of audio: the first two 10 s windows are complete (audio 2 s past their end), once each.
    expect(h.due).toEqual([`st|1|${start}`, `st|1|${start + 10_000}`]);
    // After a real jump (the next packets go on from it) the clock follows.
    for (let i = 0; i < 3; i++) s.append('1', 'a', pkt(start + 7_200_000 + i * 100, 3200));
    await spool.flush();
    expect(h.due).toContain(`st|1|${start + 20_000}`);
    await spool.close();
  });

  it('packets for a sealed segment are late: counted, neither saved nor cached', async () => {
    const { h, impl } = hooks();
    const sealedStore: AudioPartStore = {
      ensureSegments: async (refs) => new Map(refs.map((r) => [r.key, r.key])),
      appendParts: async (rows) => ({ vanished: new Set(), sealed: new Set(rows.map((r) => r.segmentId)) }),
    };
    const spool = new AudioSpool(sealedStore, impl, opts);
    spool.open(info('st')).append('1', null, pkt(T0));
    expect(await spool.flush()).toBe(true);
    expect(h.late).toBe(1);
    expect(h.saved).toBe(0);
    expect(spool.cachedPcmBytes).toBe(0);
    await spool.close();
  });

  describe('the PCM cache budget', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'audio-budget-'));
    });
    afterEach(async () => {
      await fs.rm(dir, { recursive: true, force: true });
    });

    /** 3 participants, 130 s of audio in 60 s segments, flushed every second; returns every WAV by key and the largest cache seen. */
    async function run(sub: string, cacheMaxBytes?: number) {
      const rig = new AudioRig(path.join(dir, sub));
      const writer = rig.writer();
      const { impl } = hooks(async (segs) => void (await writer.finalizeSegments(segs.map((x) => ({ id: x.id, written: x.parts })))));
      const spool = new AudioSpool(rig.store, impl, { ...opts, cacheMaxBytes });
      const s = spool.open(info('st', 60_000));
      const start = T0 - (T0 % 60_000);
      let maxCached = 0;
      for (let sec = 0; sec < 130; sec++) {
        for (let i = 0; i < 10; i++) {
          for (const u of ['1', '2', '3']) {
            const ts = start + sec * 1000 + i * 100;
            const pcm = Buffer.alloc(3200, (ts / 100 + Number(u) * 7) & 0xff);
            pcm.writeUInt32LE(ts % 2 ** 32, 0); // every packet's bytes its own
            s.append(u, `U${u}`, { ts, pcm, receivedAt: 0 });
          }
        }
        await spool.flush();
        maxCached = Math.max(maxCached, spool.cachedPcmBytes);
      }
      await s.end('finalize');
      await rig.files.close();
      return { objects: rig.objects, maxCached, evicted: spool.evictedParts, rig };
    }

    it('keeps the cached PCM under the budget (the oldest parts read back from the spool file) and writes the same WAVs byte for byte', async () => {
      const budget = 256 * 1024;
      const free = await run('free');
      const tight = await run('tight', budget);
      expect(free.maxCached).toBeGreaterThan(3 * 1_000_000); // a minute of three participants
      expect(tight.maxCached).toBeLessThanOrEqual(budget);
      expect(tight.evicted).toBeGreaterThan(0);
      expect([...tight.objects.keys()].sort()).toEqual([...free.objects.keys()].sort());
      expect(tight.objects.size).toBe(9); // 3 participants × windows [0, 60), [60, 120), [120, 130)
      for (const [key, wav] of free.objects) expect(tight.objects.get(key)!.equals(wav)).toBe(true);
      // Complete: every packet of every participant.
      for (const a of tight.rig.artifacts.values()) expect(a.meta.gaps).toEqual([]);
      const total = [...tight.rig.artifacts.values()].reduce((n, a) => n + (a.meta.packets as number), 0);
      expect(total).toBe(3 * 130 * 10);
    });
  });
});
