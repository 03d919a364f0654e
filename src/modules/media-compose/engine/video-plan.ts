import { EventLoopTurns } from './event-loop-turns';
import type { Interval } from './intervals';

/** What the planner needs to know of one stored segment (its bytes stay on disk). */
export interface SegmentFrames {
  /** Zoom timestamp of each access unit, in decode order. */
  frameTs: number[];
  /** Whether each access unit holds an IDR picture (decoding can start there). */
  idr: boolean[];
}

/** One picture handed to ffmpeg: an access unit of a segment, or the black filler picture. */
export type PlannedFrame = { kind: 'source'; segment: number; unit: number; ts: number; idr: boolean } | { kind: 'black'; ts: number };

export interface VideoPlan {
  /** In strictly increasing `ts`; the first at or before the window's start. */
  frames: PlannedFrame[];
  /** Stretches shown black (the filler picture), before clipping to the window. */
  noVideo: Interval[];
}

/** A source picture as planned, with its segment's typical frame interval (the engine ignores that field). */
type Frame = Extract<PlannedFrame, { kind: 'source' }> & { intervalMs: number };

/** A frame interval outside these bounds is a measurement artefact (one-frame segment, a stall). */
const MIN_INTERVAL_MS = 1000 / 120;
const MAX_INTERVAL_MS = 1000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The segment's typical frame interval (median, so jitter and one stall do not move it). */
function segmentInterval(ts: number[], fallbackMs: number): number {
  if (ts.length < 2) return fallbackMs;
  const deltas = ts.slice(1).map((t, i) => t - ts[i]);
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, median(deltas)));
}

/** The first index of `frames` where `atOrAfter` holds (it must hold from some index to the end), or frames.length. */
function firstWhere(frames: Frame[], atOrAfter: (f: Frame) => boolean): number {
  let lo = 0;
  let hi = frames.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (atOrAfter(frames[mid])) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The frames of every segment on one timeline, overlaps resolved.
 *
 * Segments are taken in order of their first timestamp. A segment that starts while an
 * earlier one is still running takes over from its first picture (an IDR, so the cut is
 * decodable) — a stream takeover or a speaker change reported a little late; the earlier
 * segment's frames from that instant on are dropped, and if it outlasts the newcomer it
 * resumes at its next IDR after the newcomer's last frame (resuming mid-GOP would decode
 * garbage). Timestamps are made strictly increasing within a segment (a repeated
 * timestamp is moved 1 ms on: ffmpeg needs monotonic time; the frame is still decodable).
 *
 * The timeline stays strictly increasing, so where a segment cuts in is found by binary
 * search (most segments start after the timeline's end: one comparison), and only the
 * frames it drops are moved. A 10-hour meeting has a million frames: a scan of the whole
 * timeline per segment took minutes and blocked the event loop (the lease was lost);
 * now it takes about a second, in slices that let the event loop run between them.
 */
async function mergeSegments(segments: SegmentFrames[], fallbackIntervalMs: number, turns: EventLoopTurns): Promise<Frame[]> {
  const order = segments
    .map((s, index) => ({ s, index }))
    .filter(({ s }) => s.frameTs.length > 0)
    .sort((a, b) => a.s.frameTs[0] - b.s.frameTs[0] || a.index - b.index);
  const timeline: Frame[] = [];
  for (const { s, index } of order) {
    if (turns.due()) await turns.give();
    // Pictures before the segment's first IDR reference pictures it does not have.
    const entry = s.idr.indexOf(true);
    if (entry < 0 || entry >= s.frameTs.length) continue;
    const first = s.frameTs[entry];
    const end = timeline.at(-1);
    const cut = !end || end.ts < first ? timeline.length : firstWhere(timeline, (f) => f.ts >= first);
    // What the newcomer overlaps, cut off the timeline (the timeline is truncated, not copied).
    const dropped = cut < timeline.length ? timeline.splice(cut) : [];
    const intervalMs = segmentInterval(s.frameTs, fallbackIntervalMs);
    let last = -Infinity;
    for (let unit = entry; unit < s.frameTs.length; unit++) {
      last = Math.max(s.frameTs[unit], last + 1);
      timeline.push({ kind: 'source', segment: index, unit, ts: last, idr: s.idr[unit], intervalMs });
    }
    // The earlier segment resumes at its first IDR after the newcomer's end.
    let resume = firstWhere(dropped, (f) => f.ts > last);
    while (resume < dropped.length && !dropped[resume].idr) resume++;
    for (let i = resume; i < dropped.length; i++) timeline.push(dropped[i]);
  }
  return timeline;
}

/**
 * Plans the video of the window [startTs, endTs): the segments' pictures at their Zoom
 * timestamps, and the black filler picture wherever no video was captured for longer than
 * two frame intervals (between segments, before the first, after the last). ffmpeg then
 * shows each picture until the next one (the fps filter), so a black picture at a gap's
 * start makes the whole gap black. Black is placed only before an IDR: inside a GOP the
 * next picture needs its predecessors, so a stall inside a segment holds the last picture.
 */
export async function planVideo(segments: SegmentFrames[], window: { startTs: number; endTs: number }, fps: number, turns = new EventLoopTurns()): Promise<VideoPlan> {
  const outputIntervalMs = 1000 / fps;
  const merged = await mergeSegments(segments, outputIntervalMs, turns);
  const frames: PlannedFrame[] = [];
  const noVideo: Interval[] = [];
  const blackAfter = (f: Frame, until: number) => {
    const from = f.ts + f.intervalMs;
    frames.push({ kind: 'black', ts: from });
    noVideo.push({ from, to: until });
  };
  const isGap = (f: Frame, nextTs: number) => nextTs - f.ts > 2 * Math.max(f.intervalMs, outputIntervalMs);

  const first = merged[0];
  if (!first || first.ts > window.startTs) {
    // Always a picture at the very start, so the output's first frame has a source; a
    // late first frame by less than two intervals is jitter, not a reported gap.
    frames.push({ kind: 'black', ts: window.startTs });
    const until = first ? Math.min(first.ts, window.endTs) : window.endTs;
    if (until - window.startTs > 2 * outputIntervalMs) noVideo.push({ from: window.startTs, to: until });
  }
  for (let i = 0; i < merged.length; i++) {
    if (turns.due()) await turns.give();
    const f = merged[i];
    if (f.ts >= window.endTs) break;
    frames.push(f);
    const next = merged[i + 1];
    if (next && next.ts < window.endTs) {
      if (next.idr && isGap(f, next.ts)) blackAfter(f, next.ts);
    } else if (isGap(f, window.endTs)) {
      blackAfter(f, window.endTs);
    }
  }
  return { frames: startAtDecodablePicture(frames, window.startTs), noVideo: noVideo.filter((g) => g.to > g.from) };
}

/**
 * Drops what precedes the window, keeping the last decodable entry point (an IDR or the
 * black picture) at or before its start: the picture on screen at startTs may have been
 * sent earlier, and it can only be decoded from there.
 */
function startAtDecodablePicture(frames: PlannedFrame[], startTs: number): PlannedFrame[] {
  let entry = 0;
  for (let i = 0; i < frames.length && frames[i].ts <= startTs; i++) {
    const f = frames[i];
    if (f.kind === 'black' || f.idr) entry = i;
  }
  return entry === 0 ? frames : frames.slice(entry);
}
