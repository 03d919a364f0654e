import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseWav } from '../savers/wav';
import { SWEEP_RETRY_BASE_MS, SWEEP_RETRY_MAX_MS } from './audio-segment-writer';
import { AudioRig } from './audio-writer.spec-helper';

const T0 = 1_750_690_000_000; // a Zoom ms timestamp on a segment boundary
const seg = (rig: AudioRig, userId: string, over: { sampleRate?: number; segmentMs?: number } = {}) =>
  rig.addSegment({ sessionId: 'sess', rtmsStreamId: 'st', userId, userName: `U${userId}`, segmentStartMs: T0, segmentMs: over.segmentMs ?? 10_000, sampleRate: over.sampleRate ?? 16000, channels: 1 });
/** `count` packets of `bytes` each, `stepMs` apart from T0, leaving out the indexes in `lost`. */
const packets = (count: number, bytes: number, stepMs: number, lost: number[] = []) =>
  Array.from({ length: count }, (_, i) => i)
    .filter((i) => !lost.includes(i))
    .map((i) => ({ ts: T0 + i * stepMs, pcm: Buffer.alloc(bytes, i & 0x7f) }));

describe('AudioSegmentWriter', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'audio-writer-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe('sample rate', () => {
    it('one lost packet does not relabel the WAV: 16 kHz kept, the hole reported as a 20 ms gap', async () => {
      const rig = new AudioRig(dir);
      const id = seg(rig, '1');
      rig.addRowPart(id, packets(500, 640, 20, [1]));
      expect(await rig.writer().finalizeSegment(id)).toBe(true);
      const art = rig.artifactOf(id)!;
      const wav = parseWav(rig.objects.get(art.storageKey)!);
      expect(wav.sampleRate).toBe(16000);
      expect(wav.durationMs).toBe(499 * 20);
      expect(art.meta).toMatchObject({ sample_rate: 16000, packets: 499, gaps: [{ at_ms: T0 + 20, missing_ms: 20 }] });
      expect(art.durationMs).toBe(499 * 20);
      expect(rig.segments.get(id)!.sample_rate).toBe(16000);
    });

    it('long steps (muted stretches, losses) never decide alone; the bulk of the segment does', async () => {
      const rig = new AudioRig(dir);
      // 100 ms packets (3200 B) with the first step 200 ms: still 16 kHz.
      const a = seg(rig, '1');
      rig.addRowPart(a, packets(10, 3200, 100, [1]));
      // Two packets a long step apart: nothing to go on, the negotiated rate.
      const b = seg(rig, '2');
      rig.addRowPart(b, packets(3, 640, 40, [1]));
      // Zoom sends 8 kHz although 16 kHz was negotiated (320 B per 20 ms): every step says so.
      const c = seg(rig, '3');
      rig.addRowPart(c, packets(100, 320, 20, [10, 11, 50]));
      expect(await rig.writer().finalizeSegments([{ id: a }, { id: b }, { id: c }])).toBe(3);
      expect([a, b, c].map((id) => rig.artifactOf(id)!.meta.sample_rate)).toEqual([16000, 16000, 8000]);
    });
  });

  it('an odd-length packet is cut to whole samples (counted): the rest of the WAV stays aligned', async () => {
    const rig = new AudioRig(dir);
    const id = seg(rig, '1');
    const sample = (n: number) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i + 1 < n; i += 2) b.writeInt16LE(0x0102, i);
      return b;
    };
    rig.addRowPart(id, [
      { ts: T0, pcm: sample(640) },
      { ts: T0 + 20, pcm: sample(639) },
      { ts: T0 + 40, pcm: sample(640) },
    ]);
    await rig.writer().finalizeSegment(id);
    const art = rig.artifactOf(id)!;
    const wav = rig.objects.get(art.storageKey)!;
    expect(parseWav(wav).dataBytes).toBe(640 + 638 + 640);
    const data = wav.subarray(44);
    for (let i = 0; i < data.length; i += 2) expect(data.readInt16LE(i)).toBe(0x0102);
    expect(art.meta.trimmed_packets).toBe(1);
  });

  describe('one bad segment costs only itself', () => {
    const three = (rig: AudioRig) =>
      ['1', '2', '3'].map((u) => {
        const id = seg(rig, u);
        rig.addRowPart(id, packets(50, 640, 20));
        return id;
      });

    it('a WAV storage refuses is left out; the others of its batch are written and marked final', async () => {
      const rig = new AudioRig(dir);
      const [a, b, c] = three(rig);
      rig.refusePut = (key) => key.includes('U2_2');
      expect(await rig.writer().finalizeSegments([a, b, c].map((id) => ({ id })))).toBe(2);
      expect([a, b, c].map((id) => rig.segments.get(id)!.status)).toEqual(['final', 'open', 'final']);
      expect(rig.artifactOf(b)).toBeUndefined();
    });

    it('a row the database refuses fails its batch, whose segments are then written one by one', async () => {
      const rig = new AudioRig(dir);
      const [a, b, c] = three(rig);
      rig.refuseRow = (row) => row.userId === '3';
      expect(await rig.writer().finalizeSegments([a, b, c].map((id) => ({ id })))).toBe(2);
      expect([a, b, c].map((id) => rig.segments.get(id)!.status)).toEqual(['final', 'final', 'open']);
    });

    it('when none can be written, the first error is thrown (the caller counts it), and all stay open', async () => {
      const rig = new AudioRig(dir);
      const [a, b, c] = three(rig);
      rig.refusePut = () => true;
      await expect(rig.writer().finalizeSegments([a, b, c].map((id) => ({ id })))).rejects.toThrow('EACCES');
      expect([a, b, c].map((id) => rig.segments.get(id)!.status)).toEqual(['open', 'open', 'open']);
    });

    it('the sweep writes the others and still seals', async () => {
      const rig = new AudioRig(dir);
      const [a, b, c] = three(rig);
      rig.refuseRow = (row) => row.userId === '1';
      rig.refusePut = (key) => key.includes('U2_2');
      const res = await rig.writer().sweep(0);
      expect(res.written).toBe(1);
      expect([a, b, c].map((id) => rig.segments.get(id)!.status)).toEqual(['open', 'open', 'final']);
      expect(rig.sealCalls).toBe(1);
      // Nothing writable at all: still seals.
      rig.refuseRow = () => true;
      expect((await rig.writer().sweep(0)).written).toBe(0);
      expect(rig.sealCalls).toBe(2);
    });
  });

  it('a segment that keeps failing is retried by the sweep later each time (capped), not at every sweep', async () => {
    const rig = new AudioRig(dir);
    const bad = seg(rig, '1');
    rig.addRowPart(bad, packets(50, 640, 20));
    const good = seg(rig, '2');
    rig.addRowPart(good, packets(50, 640, 20));
    let tries = 0;
    rig.refusePut = (key) => key.includes('U1_1') && ++tries > 0;
    let now = T0;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const writer = rig.writer();
      const at = async (ms: number) => {
        now = T0 + ms;
        return (await writer.sweep(0)).written;
      };
      expect(await at(0)).toBe(1); // the good one; the bad one fails (1st try)
      expect(tries).toBe(1);
      await at(SWEEP_RETRY_BASE_MS - 1);
      expect(tries).toBe(1); // not yet
      await at(SWEEP_RETRY_BASE_MS);
      expect(tries).toBe(2);
      await at(SWEEP_RETRY_BASE_MS + 2 * SWEEP_RETRY_BASE_MS - 1);
      expect(tries).toBe(2); // the wait doubled
      await at(3 * SWEEP_RETRY_BASE_MS);
      expect(tries).toBe(3);
      // Many failures later the wait stops growing at SWEEP_RETRY_MAX_MS.
      let t = 3 * SWEEP_RETRY_BASE_MS;
      for (let i = 0; i < 12; i++) await at((t += SWEEP_RETRY_MAX_MS));
      expect(tries).toBe(15);
      // Storage takes it again: written at its next retry, and forgotten.
      rig.refusePut = () => false;
      expect(await at(t + SWEEP_RETRY_MAX_MS)).toBe(1);
      expect(rig.segments.get(bad)!.status).toBe('final');
    } finally {
      clock.mockRestore();
    }
  });

  it('writes a batch in transactions of at most WRITE_BATCH_BYTES of PCM (one segment at least)', async () => {
    const rig = new AudioRig(dir);
    const writer = rig.writer();
    // Three one-hour-class segments of 20 MB each: one per transaction (32 MiB cap).
    const ids = ['1', '2', '3'].map((u) => {
      const id = seg(rig, u, { segmentMs: 3_600_000 });
      rig.addRowPart(id, [{ ts: T0, pcm: Buffer.alloc(20 * 1024 * 1024) }]);
      return id;
    });
    const tx = jest.spyOn((writer as unknown as { db: { transaction: (...a: unknown[]) => unknown } }).db, 'transaction');
    expect(await writer.finalizeSegments(ids.map((id) => ({ id })))).toBe(3);
    expect(tx).toHaveBeenCalledTimes(3);
  });
});
