import type { CapturePolicy } from '../../sessions';
import { effectivePolicy } from './stream-runner.service';

const DEFAULTS: CapturePolicy = {
  media_types: ['audio', 'video', 'deskshare', 'transcript', 'chat'],
  include_user_ids: [],
  exclude_user_ids: [],
  video: { skip_first_frames: 0, interval_ms: 1000, max_frames_per_user: 0, store: true },
  deskshare: { skip_first_frames: 0, interval_ms: 1000, max_frames_per_user: 0, store: true },
  audio: { mode: 'per_participant', segment_seconds: 10, store: true },
  transcript: { enabled: true, src_language: -1, store: true },
  chat: { enabled: true, store: true },
};
const stores = (p: CapturePolicy) => (['video', 'deskshare', 'audio', 'transcript', 'chat'] as const).map((t) => p[t].store);

describe('effectivePolicy (the policy a stream worker runs with)', () => {
  it('a stored zero-retention policy stores no media type, even where the row says store: true', () => {
    const stored = { video: { store: true }, retention: { media_days: null, transcript_days: null, events_days: null, zero: true } };
    expect(stores(effectivePolicy(stored, DEFAULTS))).toEqual([false, false, false, false, false]);
  });

  it('a row without retention (older sessions) keeps its per-type flags over the defaults', () => {
    expect(stores(effectivePolicy({ video: { store: false } }, DEFAULTS))).toEqual([false, true, true, true, true]);
  });
});
