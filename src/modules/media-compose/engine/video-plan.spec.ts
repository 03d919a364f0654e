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
  it('lays consecutive segments end to end with no black between them', () => {
    const plan = planVideo([segment(0, 3), segment(120, 2)], window(0, 200), 25);
    expect(brief(plan.frames)).toEqual(['0:0@0', '0:1@40', '0:2@80', '1:0@120', '1:1@160']);
    expect(plan.noVideo).toEqual([]);
  });

  it('puts a black picture one frame interval after the last frame before a gap, and reports the gap', () => {
    const plan = planVideo([segment(0, 3), segment(3000, 2)], window(0, 3080), 25);
    expect(brief(plan.frames)).toEqual(['0:0@0', '0:1@40', '0:2@80', 'K@120', '1:0@3000', '1:1@3040']);
    expect(rel(plan.noVideo)).toEqual([[120, 3000]]);
  });

  it('fills the start and the end of the window with black when the video starts late and stops early', () => {
    const plan = planVideo([segment(1000, 2)], window(0, 2000), 25);
    expect(brief(plan.frames)).toEqual(['K@0', '0:0@1000', '0:1@1040', 'K@1080']);
    expect(rel(plan.noVideo)).toEqual([
      [0, 1000],
      [1080, 2000],
    ]);
  });

  it('is one black picture for a window without video', () => {
    const plan = planVideo([], window(0, 5000), 25);
    expect(brief(plan.frames)).toEqual(['K@0']);
    expect(rel(plan.noVideo)).toEqual([[0, 5000]]);
  });

  it('holds the last picture through a stall inside a segment (no IDR follows, so black would break decoding)', () => {
    const seg: SegmentFrames = { frameTs: [0, 40, 1000, 1040].map((t) => T0 + t), idr: [true, false, false, false] };
    const plan = planVideo([seg], window(0, 1080), 25);
    expect(brief(plan.frames)).toEqual(['0:0@0', '0:1@40', '0:2@1000', '0:3@1040']);
    expect(plan.noVideo).toEqual([]);
  });

  it('lets a segment that starts inside another take over from its IDR, and resumes the first at its next IDR', () => {
    const long = segment(0, 10, 40, [0, 7]); // IDRs at 0 and 280 ms
    const takeover = segment(100, 3); // 100, 140, 180
    const plan = planVideo([long, takeover], window(0, 400), 25);
    // 180 → 280 ms has no picture for longer than two intervals: black until the IDR.
    expect(brief(plan.frames)).toEqual(['0:0@0', '0:1@40', '0:2@80', '1:0@100', '1:1@140', '1:2@180', 'K@220', '0:7@280', '0:8@320', '0:9@360']);
    expect(rel(plan.noVideo)).toEqual([[220, 280]]);
  });

  it('does not resume a segment without a later IDR; the gap after the takeover turns black', () => {
    const plan = planVideo([segment(0, 25), segment(100, 3)], window(0, 1000), 25);
    expect(brief(plan.frames)).toEqual(['0:0@0', '0:1@40', '0:2@80', '1:0@100', '1:1@140', '1:2@180', 'K@220']);
    expect(rel(plan.noVideo)).toEqual([[220, 1000]]);
  });

  it('takes a duplicated segment (the same frames captured twice during a stream takeover) once', () => {
    const plan = planVideo([segment(0, 3), segment(0, 3)], window(0, 120), 25);
    expect(brief(plan.frames)).toEqual(['1:0@0', '1:1@40', '1:2@80']);
  });

  it('orders segments by their first timestamp, not by their order in the input', () => {
    const plan = planVideo([segment(80, 2), segment(0, 2)], window(0, 160), 25);
    expect(brief(plan.frames)).toEqual(['1:0@0', '1:1@40', '0:0@80', '0:1@120']);
  });

  it('starts at the last IDR at or before the window start, and drops frames at or after its end', () => {
    const plan = planVideo([segment(-400, 20, 40, [0, 5])], window(0, 300), 25); // IDRs at -400, -200
    expect(brief(plan.frames)[0]).toBe('0:5@-200');
    expect(plan.frames.at(-1)!.ts - T0).toBe(280);
    expect(plan.noVideo).toEqual([]);
  });

  it('drops pictures before a segment’s first IDR (they reference pictures it does not have)', () => {
    const plan = planVideo([segment(0, 4, 40, [2])], window(0, 160), 25);
    expect(brief(plan.frames)).toEqual(['K@0', '0:2@80', '0:3@120']);
    expect(plan.noVideo).toEqual([]); // 80 ms late: within two frame intervals
  });

  it('makes timestamps strictly increasing within a segment', () => {
    const seg: SegmentFrames = { frameTs: [0, 40, 40, 39, 120].map((t) => T0 + t), idr: [true, false, false, false, false] };
    const plan = planVideo([seg], window(0, 160), 25);
    expect(plan.frames.map((f) => f.ts - T0)).toEqual([0, 40, 41, 42, 120]);
  });

  it('measures gaps against the segment’s own frame interval: 5 fps screen share is not a series of gaps', () => {
    const plan = planVideo([segment(0, 5, 200), segment(1000, 5, 200)], window(0, 2000), 25);
    expect(plan.frames.filter((f) => f.kind === 'black')).toEqual([]);
    expect(plan.noVideo).toEqual([]);
  });
});
