import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { CapturePolicy, enforceZeroRetention, isZeroRetention, resolveCapturePolicy } from './capture-policy';
import { CapturePolicyDto } from './dto/capture-policy.dto';

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

const TYPES = ['video', 'deskshare', 'audio', 'transcript', 'chat'] as const;
const stores = (p: CapturePolicy) => TYPES.map((t) => p[t].store);

/** The constraint messages a request's capture_policy fails, as the API's ValidationPipe checks it (whitelist, no implicit conversion). */
const errorsOf = (plain: unknown): string[] => {
  const walk = (errors: ReturnType<typeof validateSync>): string[] => errors.flatMap((e) => [...Object.values(e.constraints ?? {}), ...walk(e.children ?? [])]);
  return walk(validateSync(plainToInstance(CapturePolicyDto, plain) as object, { whitelist: true, forbidNonWhitelisted: true }));
};

describe('capture policy: retention', () => {
  it('zero retention wins over a per-type store: true (every media type is store: false)', () => {
    const policy = resolveCapturePolicy({ video: { store: true }, audio: { store: true, segment_seconds: 5 }, chat: { store: true }, retention: { zero: true } } as CapturePolicyDto, DEFAULTS);
    expect(stores(policy)).toEqual([false, false, false, false, false]);
    // Only store is forced; the other per-type settings stay as asked.
    expect(policy.audio.segment_seconds).toBe(5);
    expect(policy.retention).toEqual({ media_days: null, transcript_days: null, events_days: null, zero: true });
    expect(isZeroRetention(policy)).toBe(true);
  });

  it('without zero, per-type store flags and retention days are kept as asked; unset days are null (follow the config)', () => {
    const policy = resolveCapturePolicy({ video: { store: false }, retention: { media_days: 0.5, transcript_days: 0 } } as CapturePolicyDto, DEFAULTS);
    expect(stores(policy)).toEqual([false, true, true, true, true]);
    expect(policy.retention).toEqual({ media_days: 0.5, transcript_days: 0, events_days: null, zero: false });
    expect(isZeroRetention(policy)).toBe(false);
    expect(stores(resolveCapturePolicy(undefined, DEFAULTS))).toEqual([true, true, true, true, true]);
    expect(resolveCapturePolicy(undefined, DEFAULTS).retention).toEqual({ media_days: null, transcript_days: null, events_days: null, zero: false });
  });

  it('a stored policy that says zero but store: true somewhere (a hand-edited or older row) stores nothing either', () => {
    const stored = { ...DEFAULTS, retention: { media_days: null, transcript_days: null, events_days: null, zero: true } };
    expect(stores(enforceZeroRetention(stored))).toEqual([false, false, false, false, false]);
    expect(isZeroRetention({})).toBe(false);
    expect(isZeroRetention({ retention: { zero: 'true' } })).toBe(false);
  });

  it('accepts days as non-negative numbers (fractions too) and zero as a boolean', () => {
    expect(errorsOf({ retention: { media_days: 0, transcript_days: 1.5, events_days: 365, zero: false } })).toEqual([]);
    expect(errorsOf({ retention: { zero: true } })).toEqual([]);
    expect(errorsOf({ retention: {} })).toEqual([]);
  });

  it.each([
    ['negative days', { media_days: -1 }],
    ['negative fraction', { events_days: -0.5 }],
    ['days as a string', { transcript_days: '5' }],
    ['days as words', { media_days: 'ten' }],
    ['days as null-ish object', { media_days: {} }],
    ['NaN days', { media_days: NaN }],
    ['infinite days', { media_days: Infinity }],
    ['over 100 years', { events_days: 36501 }],
    ['zero as a string', { zero: 'yes' }],
    ['zero as a number', { zero: 1 }],
    ['an unknown field', { forever: true }],
  ])('refuses %s', (_what, retention) => {
    expect(errorsOf({ retention }).length).toBeGreaterThan(0);
  });

  it('refuses a retention that is not an object', () => {
    expect(errorsOf({ retention: 'zero' }).length).toBeGreaterThan(0);
    expect(errorsOf({ retention: 30 }).length).toBeGreaterThan(0);
  });
});
