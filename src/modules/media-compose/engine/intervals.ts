/** Half-open time intervals [from, to) in ms, and the few set operations the engine needs. */
export interface Interval {
  from: number;
  to: number;
}

/** Sorted, with overlapping or touching intervals joined; empty ones dropped. */
export function unionIntervals(intervals: Interval[]): Interval[] {
  const sorted = intervals.filter((i) => i.to > i.from).sort((a, b) => a.from - b.from);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out.at(-1);
    if (last && i.from <= last.to) last.to = Math.max(last.to, i.to);
    else out.push({ from: i.from, to: i.to });
  }
  return out;
}

/** The parts of `intervals` not covered by `minus` (both unioned first; one pass over both, in order). */
export function subtractIntervals(intervals: Interval[], minus: Interval[]): Interval[] {
  const cut = unionIntervals(minus);
  const out: Interval[] = [];
  let first = 0; // the first cut that ends after the current interval's start
  for (const i of unionIntervals(intervals)) {
    while (first < cut.length && cut[first].to <= i.from) first++;
    let from = i.from;
    for (let k = first; k < cut.length && cut[k].from < i.to; k++) {
      if (cut[k].from > from) out.push({ from, to: cut[k].from });
      from = Math.max(from, cut[k].to);
    }
    if (from < i.to) out.push({ from, to: i.to });
  }
  return out;
}

export function clipInterval(i: Interval, window: Interval): Interval | null {
  const from = Math.max(i.from, window.from);
  const to = Math.min(i.to, window.to);
  return to > from ? { from, to } : null;
}
