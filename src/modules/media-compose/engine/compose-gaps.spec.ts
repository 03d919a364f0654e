import { reportGaps } from './compose-gaps';

const W = { from: 1000, to: 20000 };

describe('reportGaps', () => {
  it('reports no_video and no_audio stretches separately, merged and clipped to the window', () => {
    const gaps = reportGaps(W, [], [{ from: 500, to: 2000 }, { from: 1800, to: 3000 }, { from: 19000, to: 25000 }], [{ from: 5000, to: 6000 }]);
    expect(gaps).toEqual([
      { fromTs: 1000, toTs: 3000, reason: 'no_video' },
      { fromTs: 5000, toTs: 6000, reason: 'no_audio' },
      { fromTs: 19000, toTs: 20000, reason: 'no_video' },
    ]);
  });

  it('lets the session’s known gaps take precedence where they overlap detected ones', () => {
    const known = [{ fromTs: 4000, toTs: 8000, reason: 'paused' as const }];
    const gaps = reportGaps(W, known, [{ from: 3000, to: 9000 }], [{ from: 4010, to: 7990 }]);
    expect(gaps).toEqual([
      { fromTs: 3000, toTs: 4000, reason: 'no_video' },
      { fromTs: 4000, toTs: 8000, reason: 'paused' },
      { fromTs: 8000, toTs: 9000, reason: 'no_video' },
    ]);
  });

  it('drops slivers a few ms wide left at a known gap’s edge (the same gap seen by another clock)', () => {
    const known = [{ fromTs: 4000, toTs: 8000, reason: 'interrupted' as const }];
    const gaps = reportGaps(W, known, [{ from: 3990, to: 8030 }], []);
    expect(gaps).toEqual([{ fromTs: 4000, toTs: 8000, reason: 'interrupted' }]);
  });

  it('clips known gaps to the window and drops those outside it; the first listed wins where two overlap', () => {
    const known = [
      { fromTs: 0, toTs: 2000, reason: 'paused' as const },
      { fromTs: 1500, toTs: 2500, reason: 'interrupted' as const },
      { fromTs: 30000, toTs: 31000, reason: 'interrupted' as const },
    ];
    expect(reportGaps(W, known, [], [])).toEqual([
      { fromTs: 1000, toTs: 2000, reason: 'paused' },
      { fromTs: 2000, toTs: 2500, reason: 'interrupted' },
    ]);
  });

  it('stays linear on a long meeting: 50 000 keyframe waits, each with a sliver of detected gap at its edge', () => {
    const known = Array.from({ length: 50_000 }, (_, i) => ({ fromTs: i * 1000, toTs: i * 1000 + 100, reason: 'no_video' as const }));
    const noVideo = Array.from({ length: 50_000 }, (_, i) => ({ from: i * 1000 + 100, to: i * 1000 + 130 }));
    const started = Date.now();
    const gaps = reportGaps({ from: 0, to: 50_000_000 }, known, noVideo, []);
    // Generous: comparing every detected stretch with every known gap took many seconds here.
    expect(Date.now() - started).toBeLessThan(10_000);
    // The slivers are dropped: the known gaps are left.
    expect(gaps).toHaveLength(50_000);
    expect(gaps[1]).toEqual({ fromTs: 1000, toTs: 1100, reason: 'no_video' });
  });
});
