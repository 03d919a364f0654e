import type { CapturePolicy } from '../../sessions';
import { CapturePolicyFilter } from './capture-policy-filter';
import { MAX_TRACKED_PARTICIPANTS } from '../stream/participant-cap';
import { everythingPolicy } from '../../sessions/capture-policy.spec-helper';

const base: CapturePolicy = everythingPolicy();
const policy = (p: Partial<CapturePolicy>): CapturePolicy => ({ ...base, ...p });
const frames = (f: CapturePolicyFilter, msgType: number, userId: number, count: number, stepMs: number, t0 = 1_000_000) =>
  Array.from({ length: count }, (_, i) => f.shouldKeep({ msgType, userId, timestamp: t0 + i * stepMs })).filter(Boolean).length;

describe('CapturePolicyFilter', () => {
  it('tracks at most MAX_TRACKED_PARTICIPANTS users per frame type; frames of new ids beyond are dropped and counted', () => {
    const f = new CapturePolicyFilter(base);
    for (let u = 1; u <= MAX_TRACKED_PARTICIPANTS; u++) expect(f.shouldKeep({ msgType: 15, userId: u, timestamp: 1 })).toBe(true);
    for (let u = 1; u <= MAX_TRACKED_PARTICIPANTS; u++) expect(f.shouldKeep({ msgType: 16, userId: u, timestamp: 1 })).toBe(true);
    for (let u = 0; u < 50_000; u++) expect(f.shouldKeep({ msgType: 15, userId: 1_000_000 + u, timestamp: 1 })).toBe(false);
    expect(f.stats.dropped.participant_cap).toBe(50_000);
    expect((f as unknown as { frames: Map<string, unknown> }).frames.size).toBe(2 * MAX_TRACKED_PARTICIPANTS);
    // Tracked participants and text are not affected.
    expect(f.shouldKeep({ msgType: 15, userId: 7, timestamp: 2 })).toBe(true);
    expect(f.shouldKeep({ msgType: 17, userId: 2_000_000, timestamp: 2 })).toBe(true);
  });

  it('h264: every frame is kept (sampling is for JPEG/PNG); the participant rules still apply', () => {
    const sampling = { skip_first_frames: 3, interval_ms: 1000, max_frames_per_user: 2, store: true };
    const f = new CapturePolicyFilter(policy({ exclude_user_ids: ['9'], video: { ...sampling, format: 'h264', fps: 25 }, deskshare: sampling }));
    expect(frames(f, 15, 1, 50, 40)).toBe(50);
    expect(frames(f, 15, 9, 5, 40)).toBe(0);
    expect(frames(f, 16, 1, 50, 40)).toBe(2); // deskshare is still JPEG here: skip 3, then one per second, at most 2
  });

  it('keeps everything under the permissive policy', () => {
    const f = new CapturePolicyFilter(base);
    expect(frames(f, 15, 1, 50, 200)).toBe(50);
    expect([14, 16, 17, 18].every((t) => f.shouldKeep({ msgType: t, userId: 1, timestamp: 1 }))).toBe(true);
  });

  it('reproduces the Zoom Room sample: skip 3, keep at most 3 per user', () => {
    const f = new CapturePolicyFilter(policy({ video: { skip_first_frames: 3, interval_ms: 0, max_frames_per_user: 3, store: true } }));
    expect(frames(f, 15, 1, 20, 200)).toBe(3);
    expect(frames(f, 15, 2, 5, 200)).toBe(2);
    expect(f.stats.dropped.skip_first).toBe(6);
  });

  it('keeps one frame per interval per user, by Zoom timestamp', () => {
    const f = new CapturePolicyFilter(policy({ video: { skip_first_frames: 0, interval_ms: 1000, max_frames_per_user: 0, store: true } }));
    // 5 fps for 10 s → frames at 0, 1000, … 9800 → one per second = 10
    expect(frames(f, 15, 7, 50, 200)).toBe(10);
    // the other user has their own clock
    expect(frames(f, 15, 8, 6, 200)).toBe(2);
  });

  it('combines skip, interval and max', () => {
    const f = new CapturePolicyFilter(policy({ video: { skip_first_frames: 2, interval_ms: 500, max_frames_per_user: 4, store: true } }));
    expect(frames(f, 15, 1, 100, 200)).toBe(4);
  });

  it('applies deskshare rules separately from video', () => {
    const f = new CapturePolicyFilter(policy({ deskshare: { skip_first_frames: 1, interval_ms: 0, max_frames_per_user: 2, store: true } }));
    expect(frames(f, 16, 1, 10, 1000)).toBe(2);
    expect(frames(f, 15, 1, 10, 1000)).toBe(10);
  });

  it('include and exclude lists; the mixed audio stream (user 0) is exempt', () => {
    const f = new CapturePolicyFilter(policy({ include_user_ids: ['1', '2'], exclude_user_ids: ['2'] }));
    expect(f.shouldKeep({ msgType: 15, userId: 1, timestamp: 1 })).toBe(true);
    expect(f.shouldKeep({ msgType: 15, userId: 2, timestamp: 1 })).toBe(false);
    expect(f.shouldKeep({ msgType: 17, userId: 3, timestamp: 1 })).toBe(false);
    expect(f.shouldKeep({ msgType: 14, userId: 0, timestamp: 1 })).toBe(true);
    expect(f.stats.dropped).toEqual({ excluded_user: 1, not_included_user: 1 });
  });

  it('media types and the transcript/chat switches', () => {
    const f = new CapturePolicyFilter(policy({ media_types: ['audio', 'transcript', 'chat'], transcript: { enabled: false, src_language: -1, store: true }, chat: { enabled: true, store: true } }));
    expect(f.shouldKeep({ msgType: 14, userId: 1, timestamp: 1 })).toBe(true);
    expect(f.shouldKeep({ msgType: 15, userId: 1, timestamp: 1 })).toBe(false);
    expect(f.shouldKeep({ msgType: 16, userId: 1, timestamp: 1 })).toBe(false);
    expect(f.shouldKeep({ msgType: 17, userId: 1, timestamp: 1 })).toBe(false);
    expect(f.shouldKeep({ msgType: 18, userId: 1, timestamp: 1 })).toBe(true);
    expect(f.shouldKeep({ msgType: 6, userId: 1, timestamp: 1 })).toBe(false);
  });

  describe('a new run of the stream (takeover, hand-over) starts from what the session stored', () => {
    const sampling = { skip_first_frames: 2, interval_ms: 1000, max_frames_per_user: 3, store: true };
    const p = policy({ video: sampling, deskshare: sampling });

    it('the frame cap holds across runs: three runs keep 3 frames in all, not 9', () => {
      let stored: Array<{ ts: number }> = [];
      for (let run = 0; run < 3; run++) {
        const saved = stored.length > 0 ? [{ kind: 'video' as const, userId: '101', saved: stored.length, lastTs: stored[stored.length - 1].ts }] : [];
        const f = new CapturePolicyFilter(p, saved);
        for (let i = 0; i < 20; i++) {
          const ts = 1_000_000 + run * 60_000 + i * 1000;
          if (f.shouldKeep({ msgType: 15, userId: 101, timestamp: ts })) stored = [...stored, { ts }];
        }
      }
      expect(stored).toHaveLength(3);
    });

    it('the first frames are not skipped again, and the interval counts from the last frame stored', () => {
      const f = new CapturePolicyFilter(p, [{ kind: 'deskshare', userId: '7', saved: 1, lastTs: 5_000 }]);
      expect(f.shouldKeep({ msgType: 16, userId: 7, timestamp: 5_500 })).toBe(false);
      expect(f.stats.dropped).toEqual({ interval: 1 });
      expect(f.shouldKeep({ msgType: 16, userId: 7, timestamp: 6_000 })).toBe(true);
      // Another participant, and the other kind, start afresh.
      expect(f.shouldKeep({ msgType: 15, userId: 7, timestamp: 6_000 })).toBe(false);
      expect(f.stats.dropped.skip_first).toBe(1);
    });
  });
});

