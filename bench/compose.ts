/**
 * npm run bench:compose — what composing a recording costs, per recorded minute.
 *
 * Generates (once per run, with ffmpeg) a synthetic meeting of BENCH_COMPOSE_MINUTES (10):
 * three participants sending 640×360 25 fps H.264 in 2 s segments — BENCH_COMPOSE_CONTENT
 * 'head' (default: a still background with ffmpeg's moving test pattern in its middle
 * third, like a talking head) or 'pattern' (the pattern over the whole picture, every
 * pixel moving: a worst case for the encoder) — the active speaker changing every 7–23 s, Zoom's
 * mixed audio as 16 kHz mono WAV pieces of 5 s, and a 30 s pause (no media, reported as a
 * known gap) at 40 % of the meeting. Then runs the compose engine once per output size in
 * BENCH_COMPOSE_SIZES (640x360,1280x720), and encodes one participant's own audio to Opus.
 *
 * Reported per run: wall time, CPU time (ffmpeg's own user + system from -benchmark, plus
 * this Node process's: the MPEG-TS feed and the PCM timeline), both per recorded minute,
 * and the ratio CPU time / meeting duration — the share of one core composing takes.
 * Target (exit 1 if missed): ratio < BENCH_TARGET_CPU_RATIO (0.10) at every size.
 *
 * Env: BENCH_COMPOSE_MINUTES (10), BENCH_COMPOSE_SIZES, BENCH_COMPOSE_FPS (25), BENCH_COMPOSE_CONTENT (head),
 * BENCH_COMPOSE_PRESET (auto, as COMPOSE_VIDEO_PRESET), BENCH_TARGET_CPU_RATIO (0.10), FFMPEG_PATH, FFPROBE_PATH.
 * Scratch files go to .bench/compose (removed at the end unless BENCH_KEEP=1).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { DEFAULT_ENCODER_SETTINGS, FfmpegComposeEngine, resolveVideoPreset, VIDEO_PRESET_CHOICES, type VideoPresetChoice } from '../src/modules/media-compose/engine';
import { ROOT } from './bench-utils';
import { FixtureSpeaker, FixtureTurn, generateFixtures } from './compose-fixtures';

const MINUTES = Number(process.env.BENCH_COMPOSE_MINUTES ?? 10);
const SIZES = (process.env.BENCH_COMPOSE_SIZES ?? '640x360,1280x720').split(',').map((s) => s.trim().split('x').map(Number) as [number, number]);
const FPS = Number(process.env.BENCH_COMPOSE_FPS ?? 25);
const CONTENT = process.env.BENCH_COMPOSE_CONTENT ?? 'head';
const PRESET = (process.env.BENCH_COMPOSE_PRESET ?? DEFAULT_ENCODER_SETTINGS.videoPreset) as VideoPresetChoice;
const TARGET = Number(process.env.BENCH_TARGET_CPU_RATIO ?? 0.1);
const FFMPEG_PATH = process.env.FFMPEG_PATH ?? 'ffmpeg';
const FFPROBE_PATH = process.env.FFPROBE_PATH ?? 'ffprobe';
const OUT = join(ROOT, '.bench', 'compose');
const START_TS = 1_764_500_000_000;
const PAUSE_MS = 30_000;

const log = (m: string) => console.log(`[bench:compose] ${m}`);

/** Speaker turns over the meeting: a deterministic pseudo-random 7–23 s each, a pause at 40 %. */
function turns(durationMs: number, speakers: string[]): { turns: FixtureTurn[]; pause: { fromMs: number; toMs: number } } {
  const pauseFrom = Math.round((durationMs * 0.4) / 1000) * 1000;
  const pause = { fromMs: pauseFrom, toMs: pauseFrom + PAUSE_MS };
  const out: FixtureTurn[] = [];
  let t = 0;
  let k = 0;
  while (t < durationMs) {
    const length = 7000 + ((k * 7919) % 17) * 1000;
    let end = Math.min(durationMs, t + length);
    if (t < pause.fromMs && end > pause.fromMs) end = pause.fromMs;
    if (t === pause.fromMs) {
      out.push({ userId: null, fromMs: pause.fromMs, toMs: pause.toMs });
      t = pause.toMs;
      continue;
    }
    out.push({ userId: speakers[k % speakers.length], fromMs: t, toMs: end });
    t = end;
    k++;
  }
  return { turns: out, pause };
}

async function main(): Promise<void> {
  if (CONTENT !== 'head' && CONTENT !== 'pattern') throw new Error('BENCH_COMPOSE_CONTENT must be head or pattern');
  if (!VIDEO_PRESET_CHOICES.includes(PRESET)) throw new Error(`BENCH_COMPOSE_PRESET must be one of ${VIDEO_PRESET_CHOICES.join(', ')}`);
  const durationMs = MINUTES * 60_000;
  const speakers: FixtureSpeaker[] = ['ana', 'ben', 'cy'].map((userId, i) => ({ userId, picture: CONTENT, width: 640, height: 360, fps: 25, toneHz: 440 * (i + 1) }));
  const plan = turns(durationMs, speakers.map((s) => s.userId));
  rmSync(OUT, { recursive: true, force: true });
  log(`generating a ${MINUTES}-minute meeting (${plan.turns.length} turns) under ${OUT} …`);
  const fixtures = generateFixtures({ dir: join(OUT, 'in'), startTs: START_TS, speakers, turns: plan.turns, segmentMs: 2000, audioPieceMs: 5000, jitterMs: 3, ffmpegPath: FFMPEG_PATH });
  log(`${fixtures.video.length} video segments, ${fixtures.audio.length} audio pieces; ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const engine = new FfmpegComposeEngine({ ffmpegPath: FFMPEG_PATH, ffprobePath: FFPROBE_PATH, encoder: { videoPreset: PRESET } });
  const knownGaps = [{ fromTs: START_TS + plan.pause.fromMs, toTs: START_TS + plan.pause.toMs, reason: 'paused' as const }];
  const rows: string[] = [];
  let ok = true;
  for (const [width, height] of SIZES) {
    const nodeBefore = process.cpuUsage();
    const started = performance.now();
    const result = await engine.compose(
      { startTs: START_TS, endTs: START_TS + durationMs, video: fixtures.video, audio: fixtures.audio, knownGaps, output: { width, height, fps: FPS } },
      join(OUT, `recording-${width}x${height}.mp4`),
    );
    const wallMs = performance.now() - started;
    const node = process.cpuUsage(nodeBefore);
    const nodeMs = (node.user + node.system) / 1000;
    const cpuMs = result.cpuMs + nodeMs;
    const ratio = cpuMs / durationMs;
    ok &&= ratio < TARGET;
    rows.push(
      `| ${width}×${height} | ${resolveVideoPreset(PRESET, width, height, FPS)} | ${(wallMs / 1000).toFixed(1)} s | ${(cpuMs / 1000).toFixed(1)} s (ffmpeg ${(result.cpuMs / 1000).toFixed(1)}, node ${(nodeMs / 1000).toFixed(1)}) | ` +
        `${(wallMs / MINUTES / 1000).toFixed(2)} s | ${(cpuMs / MINUTES / 1000).toFixed(2)} s | ${(100 * ratio).toFixed(1)} % ${ratio < TARGET ? '✓' : '✗'} | ${(result.bytes / 1e6).toFixed(1)} MB | ${(result.durationMs / 1000).toFixed(2)} s | ${result.gaps.map((g) => `${g.reason} ${((g.toTs - g.fromTs) / 1000).toFixed(1)} s`).join(', ')} |`,
    );
    log(`${width}x${height}: wall ${(wallMs / 1000).toFixed(1)} s, CPU ${(cpuMs / 1000).toFixed(1)} s = ${(100 * ratio).toFixed(1)} % of the meeting's duration`);
  }
  const participant = speakers[0].userId;
  const ownStarted = performance.now();
  const own = await engine.participantAudio(
    { startTs: START_TS, endTs: START_TS + durationMs, userId: participant, audio: fixtures.audio.map((a) => ({ ...a, userId: participant })) },
    join(OUT, `${participant}.ogg`),
  );
  const ownWallMs = performance.now() - ownStarted;
  console.log(`\n${MINUTES}-minute meeting, ${FPS} fps, ${CONTENT} content, preset ${PRESET} (${new Date().toISOString()})\n`);
  console.log('| output | x264 preset | wall | CPU (ffmpeg + node) | wall / rec. min | CPU / rec. min | CPU / meeting | size | duration | gaps |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log(`\nOne participant's audio (all ${MINUTES} min) to Opus: wall ${(ownWallMs / 1000).toFixed(1)} s, ffmpeg CPU ${(own.cpuMs / 1000).toFixed(1)} s, ${(own.bytes / 1e6).toFixed(2)} MB`);
  console.log(`Target: CPU / meeting < ${(100 * TARGET).toFixed(0)} % at every size — ${ok ? 'met' : 'MISSED'}`);
  if (process.env.BENCH_KEEP !== '1') rmSync(OUT, { recursive: true, force: true });
  process.exitCode = ok ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
