import { AudioPieceInfo, planAudio, renderTimeline, selectAudioPieces } from './audio-timeline';

const T0 = 1_764_500_000_000;
const RATE = 1000; // 1 sample per ms keeps the arithmetic readable
const piece = (startMs: number, frames: number, userId: string | null = null, sampleRate = RATE): AudioPieceInfo => ({ startTs: T0 + startMs, userId, sampleRate, frames });
const window = (from: number, to: number) => ({ startTs: T0 + from, endTs: T0 + to });

async function render(plan: ReturnType<typeof planAudio>, data: Int16Array[], chunk = 7): Promise<number[]> {
  const out: number[] = [];
  for await (const buf of renderTimeline(plan, async (i) => data[i], chunk)) {
    for (let i = 0; i < buf.length; i += 2) out.push(buf.readInt16LE(i));
  }
  return out;
}

describe('selectAudioPieces', () => {
  it('prefers Zoom’s mixed stream, and falls back to every participant’s audio', () => {
    expect(selectAudioPieces([piece(0, 1, 'a'), piece(0, 1, null), piece(0, 1, 'b')])).toEqual([1]);
    expect(selectAudioPieces([piece(0, 1, 'a'), piece(0, 1, 'b')])).toEqual([0, 1]);
  });
});

describe('planAudio + renderTimeline', () => {
  it('places every piece at the sample its own timestamp names, silence between', async () => {
    const plan = planAudio([piece(2, 3), piece(8, 2)], window(0, 12), RATE);
    expect(plan.totalSamples).toBe(12);
    const data = [Int16Array.from([1, 2, 3]), Int16Array.from([4, 5])];
    expect(await render(plan, data)).toEqual([0, 0, 1, 2, 3, 0, 0, 0, 4, 5, 0, 0]);
  });

  it('clips pieces to the window (a piece that began before the start is entered part-way)', async () => {
    const plan = planAudio([piece(-2, 4), piece(5, 4)], window(0, 7), RATE);
    expect(await render(plan, [Int16Array.from([1, 2, 3, 4]), Int16Array.from([5, 6, 7, 8])])).toEqual([3, 4, 0, 0, 0, 5, 6]);
  });

  it('takes overlapping pieces of one source once (first placed wins), so a duplicated stream is not louder', async () => {
    const plan = planAudio([piece(0, 4), piece(2, 4)], window(0, 6), RATE);
    expect(await render(plan, [Int16Array.from([1, 1, 1, 1]), Int16Array.from([2, 2, 2, 2])])).toEqual([1, 1, 1, 1, 2, 2]);
  });

  it('sums different participants and clips the sum to 16 bits', async () => {
    const plan = planAudio([piece(0, 3, 'a'), piece(1, 3, 'b')], window(0, 4), RATE);
    const data = [Int16Array.from([30000, 30000, -30000]), Int16Array.from([10000, -30000, 5])];
    expect(await render(plan, data)).toEqual([30000, 32767, -32768, 5]);
  });

  it('reports silences of at least 100 ms as no_audio, in Zoom ms', () => {
    const plan = planAudio([piece(0, 1000), piece(1050, 950), piece(2500, 500)], window(0, 3500), RATE);
    expect(plan.noAudio.map((g) => [g.from - T0, g.to - T0])).toEqual([
      [2000, 2500],
      [3000, 3500],
    ]);
  });

  it('reports the whole window when there is no audio at all, and renders it silent', async () => {
    const plan = planAudio([], window(0, 500), RATE);
    expect(plan.noAudio.map((g) => [g.from - T0, g.to - T0])).toEqual([[0, 500]]);
    expect((await render(plan, [], 128)).every((s) => s === 0)).toBe(true);
  });

  it('runs the timeline at the most common rate and sizes other pieces to it', () => {
    const plan = planAudio([piece(0, 16000, null, 16000), piece(1000, 16000, null, 16000), piece(2000, 48000, null, 48000)], window(0, 3000));
    expect(plan.sampleRate).toBe(16000);
    expect(plan.totalSamples).toBe(48000);
    expect(plan.placements.map((p) => [p.destStart, p.count])).toEqual([
      [0, 16000],
      [16000, 16000],
      [32000, 16000],
    ]);
  });

  it('plans a long meeting’s 100 000 pieces of one source in linear time', () => {
    const pieces = Array.from({ length: 100_000 }, (_, i) => piece(i * 100, 100, null, RATE));
    const started = Date.now();
    const plan = planAudio(pieces, window(0, 10_000_000), RATE);
    // Generous: growing each source's list by copying it took minutes here.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(plan.placements).toHaveLength(100_000);
    expect(plan.noAudio).toEqual([]);
  });
});
