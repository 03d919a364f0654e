import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { CapturePolicy, enforceZeroRetention, isZeroRetention, resolveCapturePolicy, resolveDefaultCapturePolicy, storedVideoRule } from './capture-policy';
import { CapturePolicyDto } from './dto/capture-policy.dto';
import { InvalidCapturePolicyError, videoMediaParams } from './video-capture';
import { everythingPolicy } from './capture-policy.spec-helper';

const DEFAULTS: CapturePolicy = everythingPolicy(1000);

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

  it.each(['retention', 'video', 'deskshare', 'audio', 'transcript', 'chat', 'zoom_rooms', 'recording'])('refuses %s sent as an array (its elements were validated, the whole ignored)', (field) => {
    expect(errorsOf({ [field]: [{}] })).toContain(`${field} must be an object`);
  });
});

describe('capture policy: null fields', () => {
  it('take the default, as if they were not sent', () => {
    const plain = { audio: { segment_seconds: null, store: null }, transcript: { src_language: null, enabled: null }, video: { interval_ms: null, skip_first_frames: null }, chat: { enabled: null } };
    expect(errorsOf(plain)).toEqual([]);
    const p = resolveCapturePolicy(plainToInstance(CapturePolicyDto, plain), DEFAULTS);
    expect(p.audio).toEqual(DEFAULTS.audio);
    expect(p.transcript).toEqual(DEFAULTS.transcript);
    expect(p.chat).toEqual(DEFAULTS.chat);
    expect(p.video).toMatchObject({ interval_ms: 1000, skip_first_frames: 0, store: true });
  });
});

describe('capture policy: video format, fps and resolution', () => {
  const resolve = (plain: Record<string, unknown>) => resolveCapturePolicy(plain as CapturePolicyDto, DEFAULTS);

  it('defaults to JPEG as before: no format, fps or resolution stored, the rate follows interval_ms', () => {
    const p = resolveCapturePolicy(undefined, DEFAULTS);
    expect(p.video).toEqual(DEFAULTS.video);
    expect(videoMediaParams(p.video)).toEqual({ codec: 5, resolution: 2, fps: 1 });
    expect(videoMediaParams({ ...p.video, interval_ms: 0 })).toEqual({ codec: 5, resolution: 2, fps: 5 });
  });

  it('h264: codec 7 at the fps and resolution asked; fps defaults to 25 (video) / 10 (deskshare)', () => {
    const p = resolve({ video: { format: 'h264', fps: 30, resolution: 'fhd' }, deskshare: { format: 'h264' } });
    expect(p.video).toMatchObject({ format: 'h264', fps: 30, resolution: 'fhd' });
    expect(videoMediaParams(p.video)).toEqual({ codec: 7, resolution: 3, fps: 30 });
    expect(p.deskshare).toMatchObject({ format: 'h264', fps: 10 });
    expect(videoMediaParams(p.deskshare)).toEqual({ codec: 7, resolution: 2, fps: 10 });
    expect(videoMediaParams(resolve({ video: { format: 'h264' } }).video)).toEqual({ codec: 7, resolution: 2, fps: 25 });
    expect(videoMediaParams(resolve({ video: { format: 'png', fps: 3, resolution: 'sd' } }).video)).toEqual({ codec: 6, resolution: 1, fps: 3 });
    expect(videoMediaParams(resolve({ deskshare: { format: 'h264', fps: 2, resolution: 'qhd' } }).deskshare)).toEqual({ codec: 7, resolution: 4, fps: 2 });
  });

  it.each([
    ['h264 video at 5 fps (Zoom sends JPG at ≤ 5)', { video: { format: 'h264', fps: 5 } }, /video.fps from 6 to 30/],
    ['h264 deskshare at 1 fps', { deskshare: { format: 'h264', fps: 1 } }, /deskshare.fps from 2 to 30/],
    ['jpeg at 6 fps (Zoom sends H.264 above 5)', { video: { format: 'jpeg', fps: 6 } }, /video.fps from 1 to 5/],
    ['png deskshare at 25 fps', { deskshare: { format: 'png', fps: 25 } }, /deskshare.fps from 1 to 5/],
    ['fps alone above 5 (jpeg by default)', { video: { fps: 10 } }, /"jpeg" allows video.fps from 1 to 5/],
  ])('refuses %s with invalid_capture_policy', (_what, plain, message) => {
    expect(errorsOf(plain)).toEqual([]); // each field is valid alone …
    let err: unknown;
    try {
      resolve(plain);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidCapturePolicyError); // … the combination is not
    expect((err as InvalidCapturePolicyError).code).toBe('invalid_capture_policy');
    expect((err as Error).message).toMatch(message);
  });

  it.each([
    ['an unknown format', { video: { format: 'vp8' } }],
    ['fps 0', { video: { format: 'h264', fps: 0 } }],
    ['fps 31', { video: { format: 'h264', fps: 31 } }],
    ['fractional fps', { video: { format: 'h264', fps: 24.5 } }],
    ['an unknown resolution', { deskshare: { resolution: '4k' } }],
  ])('refuses %s as validation_failed', (_what, plain) => {
    expect(errorsOf(plain).length).toBeGreaterThan(0);
  });
});

describe('capture policy: configured video defaults (CAPTURE_VIDEO_FORMAT, _FPS, _RESOLUTION)', () => {
  const dto = (plain: Record<string, unknown>) => plain as CapturePolicyDto;
  const h264Defaults: CapturePolicy = { ...DEFAULTS, video: { ...DEFAULTS.video, format: 'h264', resolution: 'fhd' } };

  it('checks the defaults at boot and fills H.264 frame rate in, as for a request', () => {
    const resolved = resolveDefaultCapturePolicy(h264Defaults);
    expect(resolved.video).toEqual({ ...h264Defaults.video, fps: 25 });
    expect(videoMediaParams(resolved.video)).toEqual({ codec: 7, resolution: 3, fps: 25 });
    expect(resolveDefaultCapturePolicy(DEFAULTS)).toEqual(DEFAULTS);
    expect(() => resolveDefaultCapturePolicy({ ...DEFAULTS, video: { ...DEFAULTS.video, format: 'h264', fps: 5 } })).toThrow(/CAPTURE_VIDEO_FORMAT \/ CAPTURE_VIDEO_FPS: video.format "h264" needs video.fps from 6/);
    expect(() => resolveDefaultCapturePolicy({ ...DEFAULTS, video: { ...DEFAULTS.video, format: 'jpeg', fps: 25 } })).toThrow(/allows video.fps from 1 to 5/);
  });

  it('a session asking for another format than the default does not inherit its frame rate', () => {
    const defaults = resolveDefaultCapturePolicy({ ...DEFAULTS, video: { ...DEFAULTS.video, format: 'h264', fps: 25 } });
    const jpeg = resolveCapturePolicy(dto({ video: { format: 'jpeg' } }), defaults);
    expect(jpeg.video).toEqual({ ...DEFAULTS.video, format: 'jpeg' });
    expect(videoMediaParams(jpeg.video).codec).toBe(5);
    // Same format: the default rate stays unless the request sets its own.
    expect(resolveCapturePolicy(dto({ video: { interval_ms: 0 } }), defaults).video).toMatchObject({ format: 'h264', fps: 25, interval_ms: 0 });
    expect(resolveCapturePolicy(dto({ video: { format: 'h264', fps: 10 } }), defaults).video).toMatchObject({ format: 'h264', fps: 10 });
  });

  it('a stored rule keeps its own format: a row without one stays JPEG after the defaults change to H.264', () => {
    const stored = { skip_first_frames: 0, interval_ms: 0, max_frames_per_user: 0, store: true };
    const rule = storedVideoRule(stored, { ...h264Defaults.video, fps: 25 });
    expect(rule).toEqual(stored);
    expect(videoMediaParams(rule).codec).toBe(5);
    // Fields the row lacks (written before they existed) still come from the defaults.
    expect(storedVideoRule({ interval_ms: 500 }, DEFAULTS.video)).toEqual({ ...DEFAULTS.video, interval_ms: 500 });
    expect(storedVideoRule(undefined, h264Defaults.video)).toBe(h264Defaults.video);
  });
});
