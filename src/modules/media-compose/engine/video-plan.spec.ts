import { planVideo, PlannedFrame, SegmentFrames } from './video-plan';

const T0 = 1_764_500_000_000;
/** A segment of `n` frames every `interval` ms from `start` (ms after T0); IDR at the given unit indexes (default: the first). */
function segment(start: number, n: number, interval = 40, idrAt: number[] = [0]): SegmentFrames {
  return { frameTs: Array.from({ length: n }, (_, i) => T0 + start + i * interval), idr: Array.from({ length: n }, (_, i) => idrAt.includes(i)) };
}
const brief = (frames: PlannedFrame[]) => frames.map((f) => (f.kind === 'black' ? `K@${f.ts - T0}` : `${f.segment}:${f.unit}@${f.ts - T0}`));
const window = (from: number, to: number) => ({ startTs: T0 + from, endTs: T0 + to });
const rel = (gaps: { from: number; to: number }[]) => gaps.map((g) => [g.from - T0, g.to - T0]);

describe('planVideo', () => {
  it('lays consecutive segments end to end with no black between them', async () => {
    const plan = await planVideo([segment(0, 3), segment(120, 2)], window(0, 200), 25);
    expect(brief(plan.frames)).toEqual(['0:0@0', '0:1@40', '0:2@80', '1:0@120', '1:1@160']);
    expect(plan.noVideo).toEqual([]);
  });

  it('puts a black picture one frame interval after the last frame before a gap, and reports the gap', async () => {
    const plan = await planVideo([segment(0, 3), segment(3000, 2)], window(0, 3080), 25);
    expect(brief(plan.frames)).toEqual(['0:0@0', '0:1@40', '0:2@80', 'K@120', '1:0@3000', '1:1@3040']);
    expect(rel(plan.noVideo)).toEqual([[120, 3000]]);
  });

  it('fills the start and the end of the window with black when the video starts late and stops early', async () => {
    const plan = await planVideo([segment(1000, 2)], window(0, 2000), 25);
    expect(brief(plan.frames)).toEqual(['K@0', '0:0@1000', '0:1@1040', 'K@1080']);
    expect(rel(plan.noVideo)).toEqual([
      [0, 1000],
      [1080, 2000],
    ]);
  });

  it('is one black picture for a window without video', async () => {
    const plan = await planVideo([], window(0, 5000), 25);
    expect(brief(plan.frames)).toEqual(['K@0']);
    expect(rel(plan.noVideo)).toEqual([[0, 5000]]);
  });

  it('holds the last picture through a stall inside a segment (no IDR follows, so black would break decoding)', async () => {
    const seg: SegmentFrames = { frameTs: [0, 40, 1000, 1040].map((t) => T0 + t), idr: [true, false, false, false] };
    const plan = await planVideo([seg], window(0, 1080), 25);
    expect(brief(plan.frames)).toEqual(['0:0@0', '0:1@40', '0:2@1000', '0:3@1040']);
    expect(plan.noVideo).toEqual([]);
  });

  it('lets a segment that starts inside another take over from its IDR, and resumes the first at its next IDR', async () => {
    const long = segment(0, 10, 40, [0, 7]); // IDRs at 0 and 280 ms
    const takeover = segment(100, 3); // 100, 140, 180
    const plan = await planVideo([long, takeover], window(0, 400), 25);
    // 180 → 280 ms has no picture for longer than two intervals: black until the IDR.
    expect(brief(plan.frames)).toEqual(['0:0@0', '0:1@40', '0:2@80', '1:0@100', '1:1@140', '1:2@180', 'K@220', '0:7@280', '0:8@320', '0:9@360']);
    expect(rel(plan.noVideo)).toEqual([[220, 280]]);
  });

  it('does not resume a segment without a later IDR; the gap after the takeover turns black', async () => {
    const plan = await planVideo([segment(0, 25), segment(100, 3)], window(0, 1000), 25);
    expect(brief(plan.frames)).toEqual(['0:0@0', '0:1@40', '0:2@80', '1:0@100', '1:1@140', '1:2@180', 'K@220']);
    expect(rel(plan.noVideo)).toEqual([[220, 1000]]);
  });

  it('takes a duplicated segment (the same frames captured twice during a stream takeover) once', async () => {
    const plan = await planVideo([segment(0, 3), segment(0, 3)], window(0, 120), 25);
    expect(brief(plan.frames)).toEqual(['1:0@0', '1:1@40', '1:2@80']);
  });

  it('orders segments by their first timestamp, not by their order in the input', async () => {
    const plan = await planVideo([segment(80, 2), segment(0, 2)], window(0, 160), 25);
    expect(brief(plan.frames)).toEqual(['1:0@0', '1:1@40', '0:0@80', '0:1@120']);
  });

  it('starts at the last IDR at or before the window start, and drops frames at or after its end', async () => {
    const plan = await planVideo([segment(-400, 20, 40, [0, 5])], window(0, 300), 25); // IDRs at -400, -200
    expect(brief(plan.frames)[0]).toBe('0:5@-200');
    expect(plan.frames.at(-1)!.ts - T0).toBe(280);
    expect(plan.noVideo).toEqual([]);
  });

  it('drops pictures before a segment’s first IDR (they reference pictures it does not have)', async () => {
    const plan = await planVideo([segment(0, 4, 40, [2])], window(0, 160), 25);
    expect(brief(plan.frames)).toEqual(['K@0', '0:2@80', '0:3@120']);
    expect(plan.noVideo).toEqual([]); // 80 ms late: within two frame intervals
  });

  it('makes timestamps strictly increasing within a segment', async () => {
    const seg: SegmentFrames = { frameTs: [0, 40, 40, 39, 120].map((t) => T0 + t), idr: [true, false, false, false, false] };
    const plan = await planVideo([seg], window(0, 160), 25);
    expect(plan.frames.map((f) => f.ts - T0)).toEqual([0, 40, 41, 42, 120]);
  });

  it('measures gaps against the segment’s own frame interval: 5 fps screen share is not a series of gaps', async () => {
    const plan = await planVideo([segment(0, 5, 200), segment(1000, 5, 200)], window(0, 2000), 25);
    expect(plan.frames.filter((f) => f.kind === 'black')).toEqual([]);
    expect(plan.noVideo).toEqual([]);
  });
});

describe('planVideo on a long meeting', () => {
  /** `hours` of 2 s segments at 30 fps back to back, an IDR first in each (the hub's H.264 capture). */
  function meeting(hours: number): SegmentFrames[] {
    const segments: SegmentFrames[] = [];
    for (let t = 0; t < hours * 3600_000; t += 2000) {
      segments.push({ frameTs: Array.from({ length: 60 }, (_, i) => T0 + t + Math.round((i * 1000) / 30)), idr: Array.from({ length: 60 }, (_, i) => i === 0) });
    }
    return segments;
  }
  const tenHours = meeting(10);

  // A generous bound (measured: 1.1–1.7 s on a loaded 2-core machine, most of it allocating a
  // million frames): it guards against a scan of the whole timeline per segment, which took minutes.
  it('plans 10 hours at 30 fps (a million pictures) in linear time', async () => {
    const started = Date.now();
    const plan = await planVideo(tenHours, window(0, 10 * 3600_000), 30);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(plan.frames).toHaveLength(10 * 3600 * 30);
    expect(plan.noVideo).toEqual([]);
  });

  it('gives the event loop a turn at least every few tens of milliseconds while it plans', async () => {
    let longest = 0;
    let last = performance.now();
    let running = true;
    const tick = () => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    await planVideo(tenHours, window(0, 10 * 3600_000), 30);
    // The tick queued before the last stretch of planning measures it.
    await new Promise((resolve) => setImmediate(resolve));
    running = false;
    // Slices are 20 ms; the bound leaves room for a loaded machine and a GC pause (planning in one piece: 1 s or more).
    expect(longest).toBeLessThan(800);
  });
});
