import type { Packet } from '../savers/wav';

/** The rates L16 audio can come at (Zoom's sample_rate enum). */
const KNOWN_RATES = [8000, 16000, 32000, 48000];

/** Fewest steps between packets that must agree on another rate before the negotiated one is set aside. */
export const MIN_AGREEING_STEPS = 3;

/**
 * The sample rate of a segment's WAV: the negotiated one (what the stream asked for in
 * media_params), unless the bulk of the segment says otherwise. Each step between two
 * consecutive packets (timestamp order) gives a rate, packet bytes ÷ (2 × channels × step);
 * a known rate (within 5 %) that a strict majority of the steps, and at least
 * MIN_AGREEING_STEPS of them, agree on is used instead.
 *
 * Never one step alone: a lost packet doubles one step (640 B over 40 ms reads as 8 kHz),
 * a muted stretch makes one step long, and either used to label a whole WAV at the wrong
 * rate — twice its real length, an octave down.
 */
export function segmentRate(packets: Packet[], negotiated: number, channels: number): number {
  if (packets.length < 2) return negotiated;
  const sorted = [...packets].sort((a, b) => a.ts - b.ts);
  const votes = new Map<number, number>();
  let steps = 0;
  for (let i = 1; i < sorted.length; i++) {
    const step = sorted[i].ts - sorted[i - 1].ts;
    if (step <= 0) continue; // the same packet twice (a replay): no step
    steps++;
    const hz = (sorted[i - 1].data.length * 1000) / (2 * channels * step);
    const known = KNOWN_RATES.find((r) => Math.abs(r - hz) / r < 0.05);
    if (known !== undefined) votes.set(known, (votes.get(known) ?? 0) + 1);
  }
  let best = negotiated;
  let bestVotes = 0;
  for (const [rate, n] of votes) {
    if (n > bestVotes) {
      best = rate;
      bestVotes = n;
    }
  }
  const bulk = bestVotes >= MIN_AGREEING_STEPS && bestVotes * 2 > steps;
  return bulk ? best : negotiated;
}
