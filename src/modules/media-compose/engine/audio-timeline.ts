import type { Interval } from './intervals';
import { subtractIntervals, unionIntervals } from './intervals';

/** What the planner needs to know of one stored audio piece (its samples stay on disk). */
export interface AudioPieceInfo {
  startTs: number;
  userId: string | null;
  sampleRate: number;
  /** Sample frames in the piece (per channel). */
  frames: number;
}

/** Samples [srcStart, srcStart + count) of a piece (mono, at the timeline rate) go to [destStart, …) of the timeline. */
export interface Placement {
  piece: number;
  srcStart: number;
  destStart: number;
  count: number;
}

export interface AudioPlan {
  sampleRate: number;
  /** Samples in the window: exactly (endTs - startTs) ms at sampleRate. */
  totalSamples: number;
  /** Ordered by destStart. */
  placements: Placement[];
  /** Stretches with no source, in Zoom ms, before the reporting threshold. */
  noAudio: Interval[];
}

/** Silence shorter than this between pieces is packet timing, not a gap worth reporting. */
export const MIN_AUDIO_GAP_MS = 100;

/**
 * The pieces that make the recording's sound: Zoom's mixed stream when the session has
 * one (userId null), otherwise every participant's own audio, summed.
 */
export function selectAudioPieces(pieces: AudioPieceInfo[]): number[] {
  const indexes = pieces.map((_, i) => i);
  const mixed = indexes.filter((i) => pieces[i].userId === null);
  return mixed.length ? mixed : indexes;
}

/** The most common sample rate among the chosen pieces (16 kHz for Zoom's L16 audio). */
function timelineRate(pieces: AudioPieceInfo[], chosen: number[]): number {
  const counts = new Map<number, number>();
  for (const i of chosen) counts.set(pieces[i].sampleRate, (counts.get(pieces[i].sampleRate) ?? 0) + 1);
  let best = 16000;
  let bestCount = 0;
  for (const [rate, count] of counts) if (count > bestCount || (count === bestCount && rate > best)) [best, bestCount] = [rate, count];
  return best;
}

/**
 * Places each piece on one sample timeline starting at startTs: piece p starts at sample
 * round((p.startTs - startTs) · rate / 1000), its own timestamp, so the sound never drifts
 * from the video whatever was lost between pieces. Pieces of one source (the mixed stream,
 * or one participant) that overlap — a stream taken over by another worker sends the same
 * audio twice — are taken once, first come first placed; different sources are summed.
 */
export function planAudio(pieces: AudioPieceInfo[], window: { startTs: number; endTs: number }, rateOverride?: number): AudioPlan {
  const chosen = selectAudioPieces(pieces);
  const sampleRate = rateOverride ?? timelineRate(pieces, chosen);
  const totalSamples = Math.round(((window.endTs - window.startTs) * sampleRate) / 1000);
  const placements: Placement[] = [];
  const covered: Interval[] = [];
  const bySource = new Map<string, number[]>();
  for (const i of chosen) {
    const key = pieces[i].userId ?? '\u0000mixed';
    const indexes = bySource.get(key);
    if (indexes) indexes.push(i);
    else bySource.set(key, [i]);
  }
  for (const indexes of bySource.values()) {
    indexes.sort((a, b) => pieces[a].startTs - pieces[b].startTs || a - b);
    let placedUntil = -Infinity;
    for (const i of indexes) {
      const p = pieces[i];
      const dest = Math.round(((p.startTs - window.startTs) * sampleRate) / 1000);
      const length = Math.round((p.frames * sampleRate) / p.sampleRate);
      const from = Math.max(dest, placedUntil, 0);
      const to = Math.min(dest + length, totalSamples);
      if (to > from) {
        placements.push({ piece: i, srcStart: from - dest, destStart: from, count: to - from });
        covered.push({ from, to });
      }
      placedUntil = Math.max(placedUntil, dest + length);
    }
  }
  placements.sort((a, b) => a.destStart - b.destStart || a.piece - b.piece);
  const toMs = (sample: number) => window.startTs + (sample * 1000) / sampleRate;
  const silent = subtractIntervals([{ from: 0, to: totalSamples }], covered)
    .map((i) => ({ from: toMs(i.from), to: toMs(i.to) }))
    .filter((i) => i.to - i.from >= MIN_AUDIO_GAP_MS);
  return { sampleRate, totalSamples, placements, noAudio: unionIntervals(silent) };
}

/** Loads a piece's samples: mono, at the plan's rate. */
export type PieceLoader = (piece: number) => Promise<Int16Array>;

/**
 * Renders the planned timeline in chunks of `chunkSamples` as s16le bytes: silence where
 * nothing is placed, sources summed (clipped to 16 bits) where several overlap. Only the
 * pieces the current chunk touches are held in memory, so an hour costs no more than a minute.
 */
export async function* renderTimeline(plan: AudioPlan, load: PieceLoader, chunkSamples = 16000): AsyncGenerator<Buffer> {
  const cache = new Map<number, Int16Array>();
  let next = 0; // first placement not yet fully rendered
  for (let start = 0; start < plan.totalSamples; start += chunkSamples) {
    const end = Math.min(start + chunkSamples, plan.totalSamples);
    const sum = new Int32Array(end - start);
    while (next < plan.placements.length && plan.placements[next].destStart + plan.placements[next].count <= start) next++;
    for (let k = next; k < plan.placements.length && plan.placements[k].destStart < end; k++) {
      const p = plan.placements[k];
      const from = Math.max(start, p.destStart);
      const to = Math.min(end, p.destStart + p.count);
      if (to <= from) continue;
      let samples = cache.get(p.piece);
      if (!samples) {
        samples = await load(p.piece);
        cache.set(p.piece, samples);
      }
      const offset = p.srcStart + (from - p.destStart);
      for (let s = from; s < to; s++) sum[s - start] += samples[offset + (s - from)] ?? 0;
    }
    // Pieces whose placements all ended before the next chunk are released.
    const live = new Set<number>();
    for (let k = next; k < plan.placements.length && plan.placements[k].destStart < end + chunkSamples; k++) {
      if (plan.placements[k].destStart + plan.placements[k].count > end) live.add(plan.placements[k].piece);
    }
    for (const piece of cache.keys()) if (!live.has(piece)) cache.delete(piece);
    // Int16Array is little-endian on every platform Node runs the hub on (x86-64, arm64): s16le.
    const out = new Int16Array(sum.length);
    for (let s = 0; s < sum.length; s++) out[s] = Math.max(-32768, Math.min(32767, sum[s]));
    yield Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }
}
