import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineFailure } from '../compose/compose-errors';
import type { ComposeInput } from './compose-types';
import { FfmpegComposeEngine } from './ffmpeg-compose-engine';
import { probeMedia } from './ffmpeg-probe';
import { FfmpegTimeoutError } from './ffmpeg-runner';

/**
 * The engine against the system ffmpeg, at a tiny output size (64×64, 10 fps) so each
 * composition takes a second or two: the cases the e2e spec does not cover.
 */
const T0 = 1_764_500_000_000;
const FPS = 10;
const FRAME_MS = 1000 / FPS;

function ffmpeg(args: string[]): Buffer {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${r.stderr?.toString()}`);
  return r.stdout;
}

/** A one-colour Annex-B segment of `frames` pictures (baseline, no B-frames, one GOP), as capture stores them. */
function colourSegment(path: string, colour: string, frames: number): void {
  writeFileSync(
    path,
    ffmpeg(['-f', 'lavfi', '-i', `color=c=${colour}:s=64x64:r=${FPS}`, '-frames:v', String(frames), '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'baseline', '-bf', '0', '-g', String(frames + 1), '-pix_fmt', 'yuv420p', '-f', 'h264', 'pipe:1']),
  );
}

/** The colour of every decoded frame: r(ed), b(lue), k (black) or ? (anything else). */
function frameColours(file: string): string {
  const raw = ffmpeg(['-i', file, '-map', '0:v:0', '-vf', 'scale=1:1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
  let out = '';
  for (let i = 0; i + 3 <= raw.length; i += 3) {
    const [r, g, b] = [raw[i], raw[i + 1], raw[i + 2]];
    out += r > 120 && g < 80 && b < 80 ? 'r' : b > 120 && r < 80 && g < 80 ? 'b' : r < 30 && g < 30 && b < 30 ? 'k' : '?';
  }
  return out;
}

describe('FfmpegComposeEngine (with ffmpeg)', () => {
  let dir: string;
  const engine = new FfmpegComposeEngine({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });
  const frameTs = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i * FRAME_MS);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'compose-engine-ffmpeg-'));
    colourSegment(join(dir, 'red.h264'), 'red', 10);
    colourSegment(join(dir, 'blue.h264'), 'blue', 10);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every picture at its timestamp across video gaps longer than 10 s (ffmpeg would close them)', async () => {
    // Black for the first 15 s, red 1 s, 15 s of nothing, blue 1 s, black 1 s to the end.
    const input: ComposeInput = {
      startTs: T0,
      endTs: T0 + 33_000,
      video: [
        { path: join(dir, 'red.h264'), userId: 'red', frameTs: frameTs(T0 + 15_000, 10) },
        { path: join(dir, 'blue.h264'), userId: 'blue', frameTs: frameTs(T0 + 31_000, 10) },
      ],
      audio: [],
      knownGaps: [],
      output: { width: 64, height: 64, fps: FPS },
    };
    const out = join(dir, 'gaps.mp4');
    const result = await engine.compose(input, out);
    const colours = frameColours(out);
    expect(colours).toHaveLength(330);
    expect(colours.indexOf('r')).toBe(150);
    expect(colours.indexOf('b')).toBe(310);
    expect(colours).toBe('k'.repeat(150) + 'r'.repeat(10) + 'k'.repeat(150) + 'b'.repeat(10) + 'k'.repeat(10));
    const video = (await probeMedia('ffprobe', out)).streams.find((s) => s.type === 'video')!;
    expect(Math.abs(video.durationMs! - 33_000)).toBeLessThanOrEqual(FRAME_MS);
    expect(Math.abs(result.durationMs - 33_000)).toBeLessThanOrEqual(FRAME_MS);
    expect(result.gaps.map((g) => [g.fromTs - T0, g.toTs - T0, g.reason])).toEqual([
      [0, 33_000, 'no_audio'],
      [0, 15_000, 'no_video'],
      [16_000, 31_000, 'no_video'],
      [32_000, 33_000, 'no_video'],
    ]);
  }, 60_000);

  const silent = (o: Partial<ComposeInput> = {}): ComposeInput => ({ startTs: T0, endTs: T0 + 2000, video: [], audio: [], knownGaps: [], output: { width: 64, height: 64, fps: FPS }, ...o });

  // Through a link: the engine removes a failed run's output, and as root that would be /dev/full itself.
  const devFull = statSync('/dev/full', { throwIfNoEntry: false });
  (devFull?.isCharacterDevice() ? it : it.skip)('a full disk while ffmpeg writes is retried (internal_error), not a final compose_failed', async () => {
    const full = join(dir, 'full.mp4');
    symlinkSync('/dev/full', full);
    const err = await engine.compose(silent(), full).then(
      () => null,
      (e: unknown) => e,
    );
    expect(String(err)).toContain('No space left on device');
    expect(engineFailure(err)).toMatchObject({ code: 'internal_error', retryable: true });
  }, 60_000);

  it('kills an ffmpeg run past its deadline (window-proportional) and fails retryably', async () => {
    // A stand-in ffmpeg that encodes the black picture like the real one, then hangs on the composition itself.
    const hanging = join(dir, 'ffmpeg-hangs');
    writeFileSync(hanging, `#!/bin/sh\ncase "$*" in *lavfi*) exec ffmpeg "$@";; esac\nexec sleep 60\n`);
    chmodSync(hanging, 0o755);
    const slow = new FfmpegComposeEngine({ ffmpegPath: hanging, ffprobePath: 'ffprobe', deadline: { baseMs: 4000, windowFactor: 0.5 } });
    const started = Date.now();
    const err = await slow.compose(silent(), join(dir, 'hung.mp4')).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FfmpegTimeoutError);
    expect((err as FfmpegTimeoutError).timeoutMs).toBe(4000 + 0.5 * 2000);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(engineFailure(err)).toMatchObject({ code: 'internal_error', retryable: true });
  }, 60_000);
});
