import { H264Sequence } from './h264-sequence';

const A = { userId: 1, units: 30 };
const B = { userId: 2, units: 30 };
const INTERVAL = 1000 / 30;

/** Frames at 30 fps from `t0` on connection `conn`, the users per frame given by `who(i)`. */
function run(seq: H264Sequence, conn: number, t0: number, n: number, who: (i: number) => Array<typeof A>): number[][] {
  return Array.from({ length: n }, (_, i) => seq.frame(t0 + i * INTERVAL, conn, INTERVAL, who(i)));
}

describe('H.264 sequence rules', () => {
  it('starts at the IDR and loops: after the last unit comes unit 0 again', () => {
    const seq = new H264Sequence();
    const units = run(seq, 1, 0, 65, () => [A]).map((u) => u[0]);
    expect(units.slice(0, 31)).toEqual([...Array.from({ length: 30 }, (_, i) => i), 0]);
    expect(units[60]).toBe(0);
    expect(units[64]).toBe(4);
  });

  it('a speaker switch restarts the new speaker at unit 0 (SPS+PPS+IDR), and a switch back restarts again', () => {
    const seq = new H264Sequence();
    const frames = run(seq, 1, 0, 30, (i) => (i < 7 ? [A] : i < 20 ? [B] : [A])).map((u) => u[0]);
    expect(frames.slice(0, 7)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(frames.slice(7, 20)).toEqual(Array.from({ length: 13 }, (_, i) => i)); // B from its IDR, in order
    expect(frames.slice(20)).toEqual(Array.from({ length: 10 }, (_, i) => i)); // A again from its IDR, not from 7
  });

  it('every user of a gallery frame keeps a continuous sequence of its own; a camera that comes back starts at its IDR', () => {
    const seq = new H264Sequence();
    const frames = run(seq, 1, 0, 12, (i) => (i >= 4 && i < 8 ? [A] : [A, B]));
    expect(frames.map((f) => f[0])).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(frames.slice(0, 4).map((f) => f[1])).toEqual([0, 1, 2, 3]);
    expect(frames.slice(8).map((f) => f[1])).toEqual([0, 1, 2, 3]);
  });

  it('frames skipped on the same socket (back-pressure) do not skip units: P-frames stay decodable', () => {
    const seq = new H264Sequence();
    expect(seq.frame(0, 1, INTERVAL, [A])).toEqual([0]);
    expect(seq.frame(INTERVAL, 1, INTERVAL, [A])).toEqual([1]);
    expect(seq.frame(20 * INTERVAL, 1, INTERVAL, [A])).toEqual([2]);
  });

  it('a reconnected media socket resumes where the clock is (mid-GOP), not at an IDR', () => {
    const seq = new H264Sequence();
    run(seq, 1, 0, 10, () => [A]); // units 0..9 at t = 0 .. 9 frames
    // The socket dropped; a new one (id 2) sends again 8 frames later: unit 9 + 8 = 17, a P-frame.
    const resumed = seq.frame(17 * INTERVAL, 2, INTERVAL, [A]);
    expect(resumed).toEqual([17]);
    expect(resumed[0] % 15).not.toBe(0);
    expect(seq.frame(18 * INTERVAL, 2, INTERVAL, [A])).toEqual([18]);
    // The clock wraps the loop too: 40 frames later is unit (18 + 40) mod 30.
    expect(seq.frame(58 * INTERVAL, 3, INTERVAL, [A])).toEqual([28]);
    // Someone not on screen before the drop starts at the IDR on the new socket.
    expect(seq.frame(59 * INTERVAL, 3, INTERVAL, [A, B])).toEqual([29, 0]);
  });
});
