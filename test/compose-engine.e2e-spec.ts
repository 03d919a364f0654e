import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixtureSpeaker, FixtureTurn, generateFixtures } from '../bench/compose-fixtures';
import { ComposeInput, ComposeResult, FfmpegComposeEngine, probeMedia } from '../src/modules/media-compose/engine';
import { launchChromium } from './utils/chromium';
import { waitFor } from './utils/wait-for';
import { decodeMonoPcm, frameColours, toneBlocks, toneOnsetMs } from './utils/media-analysis';

/**
 * The compose engine against the real ffmpeg: three "participants" of distinct colours,
 * resolutions and frame rates take turns on the active-speaker video, each with a tone of
 * its own in Zoom's mixed audio that starts exactly at its turn; then a 3 s gap with no
 * video and no audio. The composed recording.mp4 is read back with ffprobe and ffmpeg
 * (codecs, duration, the tone onset against the first frame of the new speaker, a black
 * and silent gap) and played in headless Chromium.
 */
const START_TS = 1_764_500_000_123;
const WINDOW_MS = 12_000;
const FPS = 25;
const FRAME_MS = 1000 / FPS;
const SPEAKERS: FixtureSpeaker[] = [
  { userId: 'red-user', picture: 'red', width: 320, height: 240, fps: 25, toneHz: 440 },
  { userId: 'green-user', picture: 'green', width: 640, height: 360, fps: 25, toneHz: 880 },
  { userId: 'blue-user', picture: 'blue', width: 480, height: 270, fps: 15, toneHz: 1320 },
];
const TURNS: FixtureTurn[] = [
  { userId: 'red-user', fromMs: 0, toMs: 3000 },
  { userId: 'green-user', fromMs: 3000, toMs: 6000 },
  { userId: null, fromMs: 6000, toMs: 9000 },
  { userId: 'blue-user', fromMs: 9000, toMs: WINDOW_MS },
];
const TONES = SPEAKERS.map((s) => s.toneHz);
const COLOURS = ['red', 'green', 'blue'] as const;
/** Tone onsets are found in 5 ms blocks (a run of 10 = 50 ms of the tone), so they are measured to ±10 ms. */
const ONSET_BLOCK_MS = 5;

describe('compose engine (ffmpeg)', () => {
  let dir: string;
  let input: ComposeInput;
  let result: ComposeResult;
  let outFile: string;
  const engine = new FfmpegComposeEngine({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'compose-engine-'));
    const fixtures = generateFixtures({ dir: join(dir, 'in'), startTs: START_TS, speakers: SPEAKERS, turns: TURNS, segmentMs: 2000, audioPieceMs: 1000, jitterMs: 3 });
    // A stream takeover captured one green segment twice: the copy must not show twice or double anything.
    const green = fixtures.video.find((v) => v.userId === 'green-user')!;
    input = {
      startTs: START_TS,
      endTs: START_TS + WINDOW_MS,
      video: [...fixtures.video, { ...green, frameTs: [...green.frameTs] }],
      audio: fixtures.audio,
      knownGaps: [],
      output: { width: 640, height: 360, fps: FPS },
    };
    outFile = join(dir, 'recording.mp4');
    result = await engine.compose(input, outFile);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes an MP4 that ffprobe reads as H.264 + AAC lasting the window, within one frame', async () => {
    const probe = await probeMedia('ffprobe', outFile);
    const video = probe.streams.find((s) => s.type === 'video')!;
    const audio = probe.streams.find((s) => s.type === 'audio')!;
    expect([video.codec, audio.codec]).toEqual(['h264', 'aac']);
    expect([video.width, video.height, video.frameRate]).toEqual([640, 360, FPS]);
    expect(Math.abs(probe.durationMs - WINDOW_MS)).toBeLessThanOrEqual(FRAME_MS);
    expect(Math.abs(video.durationMs! - WINDOW_MS)).toBeLessThanOrEqual(FRAME_MS);
    expect(Math.abs(audio.durationMs! - WINDOW_MS)).toBeLessThanOrEqual(FRAME_MS);
    expect(result).toMatchObject({ durationMs: probe.durationMs, bytes: statSync(outFile).size, video: { codec: 'h264', width: 640, height: 360, fps: FPS }, audio: { codec: 'aac', sampleRate: 48000, channels: 1 } });
    expect(result.cpuMs).toBeGreaterThan(0);
  });

  it('keeps the audio in sync with the video: each tone starts with its speaker’s first frame (within 100 ms)', () => {
    const blocks = toneBlocks(decodeMonoPcm(outFile), TONES, 16000, ONSET_BLOCK_MS);
    const colours = frameColours(outFile);
    expect(colours).toHaveLength(WINDOW_MS / FRAME_MS);
    for (const [speaker, turn] of [
      [0, TURNS[0]],
      [1, TURNS[1]],
      [2, TURNS[3]],
    ] as const) {
      const onsetMs = toneOnsetMs(blocks, speaker, ONSET_BLOCK_MS, 10);
      const firstFrameMs = FRAME_MS * colours.indexOf(COLOURS[speaker]);
      expect(Math.abs(onsetMs - firstFrameMs)).toBeLessThanOrEqual(100);
      // And both sit where the source put them (the turn's Zoom timestamp): frames within half a frame interval.
      expect(Math.abs(onsetMs - turn.fromMs)).toBeLessThanOrEqual(2 * ONSET_BLOCK_MS);
      expect(Math.abs(firstFrameMs - turn.fromMs)).toBeLessThanOrEqual(FRAME_MS / 2);
    }
    // Every frame of a turn shows that speaker (no stale picture of the previous one).
    const shown = (fromMs: number, toMs: number) => new Set(colours.slice(Math.ceil(fromMs / FRAME_MS), Math.floor(toMs / FRAME_MS)));
    expect([...shown(0, 3000)]).toEqual(['red']);
    expect([...shown(3000, 6000)]).toEqual(['green']);
    expect([...shown(9000 + FRAME_MS, WINDOW_MS)]).toEqual(['blue']);
  });

  it('fills the gap with black and silence, and reports it', () => {
    const blocks = toneBlocks(decodeMonoPcm(outFile), TONES);
    const colours = frameColours(outFile);
    const gapFrames = colours.slice(Math.ceil((6000 + FRAME_MS) / FRAME_MS), Math.floor(9000 / FRAME_MS));
    expect(new Set(gapFrames)).toEqual(new Set(['black']));
    // AAC smears a tone's edge over a block or two; the gap's inside is silent.
    expect(new Set(blocks.slice(602, 898))).toEqual(new Set([-1]));
    const gaps = result.gaps.map((g) => ({ ...g, fromTs: g.fromTs - START_TS, toTs: g.toTs - START_TS }));
    expect(gaps).toHaveLength(2);
    expect(gaps.find((g) => g.reason === 'no_audio')).toEqual({ fromTs: 6000, toTs: 9000, reason: 'no_audio' });
    const noVideo = gaps.find((g) => g.reason === 'no_video')!;
    // Black from one frame interval after green's last frame (~5960 ms) until blue's first.
    expect(Math.abs(noVideo.fromTs - 6000)).toBeLessThanOrEqual(FRAME_MS / 2);
    expect(noVideo.toTs).toBe(9000);
  });

  it('cuts a window that starts mid-GOP and reports a known pause instead of the gaps inside it', async () => {
    // From 1.5 s (inside red's first segment: decodable only from its IDR at 0) to 10.5 s.
    const cut = join(dir, 'cut.mp4');
    const window = { startTs: START_TS + 1500, endTs: START_TS + 10_500 };
    const paused = { fromTs: START_TS + 6000, toTs: START_TS + 9000, reason: 'paused' as const };
    const cutResult = await engine.compose({ ...input, ...window, knownGaps: [paused] }, cut);
    expect(Math.abs(cutResult.durationMs - 9000)).toBeLessThanOrEqual(FRAME_MS);
    const colours = frameColours(cut);
    expect(colours).toHaveLength(9000 / FRAME_MS);
    expect(colours[0]).toBe('red');
    // 1.5 s is not on the 40 ms grid of the full window: 3000 and 9000 fall between two frames.
    expect(Math.abs(FRAME_MS * colours.indexOf('green') - 1500)).toBeLessThanOrEqual(FRAME_MS / 2);
    expect(Math.abs(FRAME_MS * colours.indexOf('blue') - 7500)).toBeLessThanOrEqual(FRAME_MS / 2);
    const onsetMs = toneOnsetMs(toneBlocks(decodeMonoPcm(cut), TONES, 16000, ONSET_BLOCK_MS), 1, ONSET_BLOCK_MS, 10);
    expect(Math.abs(onsetMs - 1500)).toBeLessThanOrEqual(2 * ONSET_BLOCK_MS);
    expect(cutResult.gaps).toEqual([paused]);
  });

  it('plays in headless Chromium: <video> reports the duration and its time advances', async () => {
    const server = await serveFile(outFile);
    const chromium = await launchChromium();
    try {
      const page = await (await chromium.newContext()).newPage();
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      await page.goto(url);
      const playback = (await page.evaluate(PLAYBACK_CHECK)) as { duration: number; currentTime: number; error: string | null };
      expect(playback.error).toBeNull();
      expect(Math.abs(playback.duration * 1000 - WINDOW_MS)).toBeLessThanOrEqual(1000);
      expect(playback.currentTime).toBeGreaterThanOrEqual(0.5);
    } finally {
      await chromium.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('encodes one participant’s own audio to Opus: their tone during their turn, silence elsewhere', async () => {
    const fixtures = generateFixtures({ dir: join(dir, 'own'), startTs: START_TS, speakers: SPEAKERS, turns: TURNS, segmentMs: 2000, audioPieceMs: 1000, jitterMs: 0, audioStreams: 'participants' });
    const ogg = join(dir, 'green-user.ogg');
    const own = await engine.participantAudio({ startTs: START_TS, endTs: START_TS + WINDOW_MS, userId: 'green-user', audio: fixtures.audio }, ogg);
    const probe = await probeMedia('ffprobe', ogg);
    expect(probe.streams.map((s) => s.codec)).toEqual(['opus']);
    expect(Math.abs(own.durationMs - WINDOW_MS)).toBeLessThanOrEqual(FRAME_MS);
    expect(own.gaps.map((g) => [g.fromTs - START_TS, g.toTs - START_TS, g.reason])).toEqual([
      [0, 3000, 'no_audio'],
      [6000, WINDOW_MS, 'no_audio'],
    ]);
    const blocks = toneBlocks(decodeMonoPcm(ogg), TONES);
    expect(new Set(blocks.slice(2, 298))).toEqual(new Set([-1]));
    expect(new Set(blocks.slice(302, 598))).toEqual(new Set([1]));
    expect(new Set(blocks.slice(602, 1198))).toEqual(new Set([-1]));
  });

  it('stops a running ffmpeg and leaves no file behind when the compose is aborted', async () => {
    const controller = new AbortController();
    const aborted = join(dir, 'aborted.mp4');
    const run = engine.compose(input, aborted, controller.signal);
    run.catch(() => undefined); // asserted below, once aborted
    // ffmpeg creates the MP4 as it starts writing: it is running then.
    await waitFor(() => existsSync(aborted), { intervalMs: 5, what: 'ffmpeg to start writing' });
    controller.abort(new Error('session deleted'));
    await expect(run).rejects.toThrow('session deleted');
    expect(existsSync(aborted)).toBe(false);
  });
});

/**
 * Runs in the page (a string: the test project has no DOM types): waits for the metadata,
 * plays muted (autoplay is allowed by the flags in utils/chromium.ts) and waits until the
 * playback position passes 0.5 s, or 15 s pass.
 */
const PLAYBACK_CHECK = `(async () => {
  const video = document.querySelector('video');
  if (video.readyState < 1) await new Promise((resolve, reject) => {
    video.addEventListener('loadedmetadata', resolve, { once: true });
    video.addEventListener('error', () => reject(new Error('media error ' + video.error.code + ': ' + video.error.message)), { once: true });
  });
  const duration = video.duration;
  await video.play();
  const deadline = Date.now() + 15000;
  while (video.currentTime < 0.5 && Date.now() < deadline && !video.error) await new Promise((r) => setTimeout(r, 50));
  return { duration, currentTime: video.currentTime, error: video.error ? video.error.message : null };
})()`;

/** Serves `file` at /recording.mp4 with Range support (what a browser's media element asks for), and a page with a <video>. */
async function serveFile(file: string): Promise<Server> {
  const size = statSync(file).size;
  const server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><video src="/recording.mp4" muted playsinline preload="auto"></video>');
      return;
    }
    if (req.url !== '/recording.mp4') return void res.writeHead(404).end();
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (!range) {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': size, 'accept-ranges': 'bytes' });
      createReadStream(file).pipe(res);
      return;
    }
    const start = range[1] ? Number(range[1]) : size - Number(range[2]);
    const end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    res.writeHead(206, { 'content-type': 'video/mp4', 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}`, 'accept-ranges': 'bytes' });
    createReadStream(file, { start, end }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
