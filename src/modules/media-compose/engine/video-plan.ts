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

type Frame = { segment: number; unit: number; ts: number; idr: boolean; intervalMs: number };

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
 */
function mergeSegments(segments: SegmentFrames[], fallbackIntervalMs: number): Frame[] {
  const order = segments
    .map((s, index) => ({ s, index }))
    .filter(({ s }) => s.frameTs.length > 0)
    .sort((a, b) => a.s.frameTs[0] - b.s.frameTs[0] || a.index - b.index);
  let timeline: Frame[] = [];
  for (const { s, index } of order) {
    const frames: Frame[] = [];
    const intervalMs = segmentInterval(s.frameTs, fallbackIntervalMs);
    for (let unit = 0; unit < s.frameTs.length; unit++) {
      // Pictures before the segment's first IDR reference pictures it does not have.
      if (!frames.length && !s.idr[unit]) continue;
      const previous = frames.at(-1);
      const ts = previous ? Math.max(s.frameTs[unit], previous.ts + 1) : s.frameTs[unit];
      frames.push({ segment: index, unit, ts, idr: s.idr[unit], intervalMs });
    }
    if (!frames.length) continue;
    const first = frames[0].ts;
    const last = frames[frames.length - 1].ts;
    const cut = timeline.findIndex((f) => f.ts >= first);
    let resumed: Frame[] = [];
    if (cut >= 0) {
      const dropped = timeline.slice(cut);
      timeline = timeline.slice(0, cut);
      const resumeAt = dropped.findIndex((f) => f.ts > last && f.idr);
      if (resumeAt >= 0) resumed = dropped.slice(resumeAt);
    }
    timeline.push(...frames, ...resumed);
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
export function planVideo(segments: SegmentFrames[], window: { startTs: number; endTs: number }, fps: number): VideoPlan {
  const outputIntervalMs = 1000 / fps;
  const merged = mergeSegments(segments, outputIntervalMs);
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
    const f = merged[i];
    if (f.ts >= window.endTs) break;
    frames.push({ kind: 'source', segment: f.segment, unit: f.unit, ts: f.ts, idr: f.idr });
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
  return frames.slice(entry);
}
