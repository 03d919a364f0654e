import type { ComposeGap, ComposeGapReason } from './compose-types';
import { clipInterval, Interval, subtractIntervals, unionIntervals } from './intervals';

/**
 * Detected stretches shorter than this that remain once the session's known gaps are cut
 * out are dropped: they are the edges of a known gap seen by a slightly different clock
 * (a pause ends, the next frame comes a few ms later), not gaps of their own.
 */
export const GAP_SLIVER_MS = 50;

/**
 * The gaps a recording reports: the session's known gaps (paused, interrupted) clipped to
 * the window, then the detected no_video / no_audio stretches outside them. Each reason's
 * stretches are merged; the list is ordered by start (then reason).
 */
export function reportGaps(window: Interval, known: ComposeGap[], noVideo: Interval[], noAudio: Interval[]): ComposeGap[] {
  const gaps: ComposeGap[] = [];
  const knownCovered: Interval[] = [];
  const byReason = new Map<ComposeGapReason, Interval[]>();
  for (const gap of known) {
    const clipped = clipInterval({ from: gap.fromTs, to: gap.toTs }, window);
    if (!clipped) continue;
    knownCovered.push(clipped);
    const intervals = byReason.get(gap.reason);
    if (intervals) intervals.push(clipped);
    else byReason.set(gap.reason, [clipped]);
  }
  // A known gap's reason wins where two known reasons overlap in the list: first listed first.
  let claimed: Interval[] = [];
  for (const [reason, intervals] of byReason) {
    for (const i of subtractIntervals(intervals, claimed)) gaps.push({ fromTs: i.from, toTs: i.to, reason });
    claimed = claimed.concat(intervals);
  }
  // Where known gaps start and end: a detected stretch touching one may be a sliver of it.
  const knownStarts = new Set(knownCovered.map((k) => k.from));
  const knownEnds = new Set(knownCovered.map((k) => k.to));
  const detected: [ComposeGapReason, Interval[]][] = [
    ['no_video', noVideo],
    ['no_audio', noAudio],
  ];
  for (const [reason, intervals] of detected) {
    const clipped = intervals.map((i) => clipInterval(i, window)).filter((i): i is Interval => i !== null);
    const rest = subtractIntervals(clipped, knownCovered);
    for (const i of unionIntervals(rest)) {
      const touchesKnown = knownEnds.has(i.from) || knownStarts.has(i.to);
      if (touchesKnown && i.to - i.from < GAP_SLIVER_MS) continue;
      gaps.push({ fromTs: i.from, toTs: i.to, reason });
    }
  }
  return gaps.sort((a, b) => a.fromTs - b.fromTs || a.reason.localeCompare(b.reason));
}
