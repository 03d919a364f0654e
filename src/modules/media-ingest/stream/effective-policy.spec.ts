import type { CapturePolicy } from '../../sessions';
import { effectivePolicy } from './stream-runner.service';
import { everythingPolicy } from '../../sessions/capture-policy.spec-helper';

const DEFAULTS: CapturePolicy = everythingPolicy(1000);
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
