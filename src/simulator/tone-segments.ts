/**
 * Which participants' tones sound in an audio packet, sample by sample. A participant is heard
 * exactly while present and unmuted: sample n (script time n·1000/rate ms) carries their tone
 * iff joinAtMs ≤ n·1000/rate < leaveAtMs. A join or leave inside a packet splits it into
 * segments, so a tone starts at its exact sample (the sync contract in docs/simulator.md).
 */
import type { Participant } from './meeting';

export interface AudibleSegment {
  startSample: number;
  count: number;
  /** Participants heard in these samples (script order). */
  heard: Participant[];
}

/** First sample at or after script time `ms`. */
const sampleAt = (ms: number, rateHz: number) => Math.ceil((ms * rateHz) / 1000 - 1e-9);

function heardAt(p: Participant, n: number, rateHz: number): boolean {
  if (p.muted) return false;
  if (n < sampleAt(p.joinAtMs ?? 0, rateHz)) return false;
  return p.leaveAtMs === undefined || n < sampleAt(p.leaveAtMs, rateHz);
}

/** Segments of `[startSample, startSample+count)` with a constant set of heard participants. */
export function audibleSegments(participants: readonly Participant[], startSample: number, count: number, rateHz: number): AudibleSegment[] {
  const end = startSample + count;
  let cuts: number[] | undefined;
  for (const p of participants) {
    if (p.muted) continue;
    const join = sampleAt(p.joinAtMs ?? 0, rateHz);
    if (join > startSample && join < end) (cuts ??= []).push(join);
    if (p.leaveAtMs === undefined) continue;
    const leave = sampleAt(p.leaveAtMs, rateHz);
    if (leave > startSample && leave < end) (cuts ??= []).push(leave);
  }
  // The common case (nobody joins or leaves inside this packet): one segment, no sorting.
  if (!cuts) return [{ startSample, count, heard: participants.filter((p) => heardAt(p, startSample, rateHz)) }];
  const starts = [...new Set([startSample, ...cuts])].sort((a, b) => a - b);
  return starts.map((from, i) => {
    const to = i + 1 < starts.length ? starts[i + 1] : end;
    return { startSample: from, count: to - from, heard: participants.filter((p) => heardAt(p, from, rateHz)) };
  });
}
