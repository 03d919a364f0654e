/**
 * Synthetic captured media for the compose engine, the shapes the hub stores: H.264
 * Annex-B segments (Constrained Baseline, no B-frames, SPS/PPS before the IDR that opens
 * each segment) with a Zoom timestamp per access unit, and 16 kHz mono PCM WAV pieces
 * with their start timestamps. Used by test/compose-engine.e2e-spec.ts and bench:compose.
 *
 * Each speaker has a picture (a solid colour, or ffmpeg's moving test pattern for a
 * realistic encoder load) and a tone of its own that sounds exactly while it has the
 * floor, so a composed file can be checked for sync: the tone's onset and the picture's
 * first frame must coincide.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AudioPieceInput, VideoSegmentInput } from '../src/modules/media-compose/engine';

export interface FixtureSpeaker {
  userId: string;
  /**
   * An ffmpeg colour name (a solid picture); 'pattern': ffmpeg's moving test pattern over
   * the whole picture (a hard case for the encoder); 'head': a still background with that
   * pattern moving in its middle third (closer to a talking head on camera).
   */
  picture: string;
  width: number;
  height: number;
  fps: number;
  toneHz: number;
}

/** One stretch of the meeting: who speaks (and is on camera), or nobody (a gap: no video, no audio). */
export interface FixtureTurn {
  userId: string | null;
  fromMs: number;
  toMs: number;
}

export interface FixtureOptions {
  dir: string;
  startTs: number;
  speakers: FixtureSpeaker[];
  turns: FixtureTurn[];
  segmentMs: number;
  /** Audio piece length (the hub's audio spool flushes every few seconds). */
  audioPieceMs: number;
  /** ± this many ms of deterministic jitter on every frame timestamp. */
  jitterMs: number;
  /** 'mixed': Zoom's mixed stream (userId null); 'participants': each speaker's own audio. */
  audioStreams?: 'mixed' | 'participants';
  ffmpegPath?: string;
}

export interface Fixtures {
  video: VideoSegmentInput[];
  audio: AudioPieceInput[];
}

const AUDIO_RATE = 16000;

/** Encodes `frames` pictures of a speaker as one Annex-B segment (one IDR, then P-frames). */
function encodeSegment(ffmpeg: string, s: FixtureSpeaker, frames: number): Buffer {
  const size = `${s.width}x${s.height}`;
  const even = (n: number) => 2 * Math.round(n / 2);
  const head = `color=c=0x303840:s=${size}:r=${s.fps}[bg];testsrc2=s=${even(s.width / 2)}x${even((2 * s.height) / 3)}:r=${s.fps}[fg];[bg][fg]overlay=x=(W-w)/2:y=(H-h)/2:shortest=1`;
  const source = s.picture === 'pattern' ? `testsrc2=s=${size}:r=${s.fps}` : s.picture === 'head' ? head : `color=c=${s.picture}:s=${size}:r=${s.fps}`;
  const args = ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', source, '-frames:v', String(frames)];
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'baseline', '-bf', '0', '-g', String(frames + 1), '-pix_fmt', 'yuv420p', '-f', 'h264', 'pipe:1');
  const r = spawnSync(ffmpeg, args, { maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ffmpeg could not encode a fixture segment: ${r.stderr?.toString()}`);
  return r.stdout;
}

/** A 16-bit mono PCM WAV file's bytes. */
export function wavBytes(samples: Int16Array, rate = AUDIO_RATE): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + samples.length * 2, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(samples.length * 2, 40);
  return Buffer.concat([header, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)]);
}

/** Deterministic jitter in [-jitterMs, +jitterMs]. */
const jitter = (i: number, jitterMs: number) => (jitterMs ? Math.round(Math.sin(i * 12.9898) * jitterMs) : 0);

/**
 * Writes the segments and pieces for `turns` under `dir`. Segments of one speaker reuse
 * one encoded segment (same bytes, new timestamps): generating is quick even for an hour.
 */
export function generateFixtures(o: FixtureOptions): Fixtures {
  const ffmpeg = o.ffmpegPath ?? 'ffmpeg';
  mkdirSync(o.dir, { recursive: true });
  const speakers = new Map(o.speakers.map((s) => [s.userId, s]));
  const encoded = new Map<string, Buffer[]>(); // userId → Annex-B of a segment of N frames, by N
  const video: VideoSegmentInput[] = [];
  const audio: AudioPieceInput[] = [];
  let frameCounter = 0;
  for (const [t, turn] of o.turns.entries()) {
    if (turn.userId === null) continue;
    const s = speakers.get(turn.userId);
    if (!s) throw new Error(`turn ${t} names an unknown speaker ${turn.userId}`);
    for (let from = turn.fromMs; from < turn.toMs; from += o.segmentMs) {
      const to = Math.min(turn.toMs, from + o.segmentMs);
      const frames = Math.max(1, Math.round(((to - from) * s.fps) / 1000));
      const cache = encoded.get(s.userId) ?? [];
      encoded.set(s.userId, cache);
      cache[frames] ??= encodeSegment(ffmpeg, s, frames);
      const path = join(o.dir, `v-${t}-${from}.h264`);
      writeFileSync(path, cache[frames]);
      const frameTs = Array.from({ length: frames }, (_, i) => o.startTs + from + Math.round((i * 1000) / s.fps) + (i === 0 ? 0 : jitter(frameCounter++, o.jitterMs)));
      video.push({ path, userId: s.userId, frameTs });
    }
  }
  // The speaking participant's tone, nothing during gaps: in Zoom's mixed stream, or as
  // that participant's own audio.
  for (const [t, turn] of o.turns.entries()) {
    if (turn.userId === null) continue;
    const tone = speakers.get(turn.userId)!.toneHz;
    for (let from = turn.fromMs; from < turn.toMs; from += o.audioPieceMs) {
      const to = Math.min(turn.toMs, from + o.audioPieceMs);
      const samples = new Int16Array(Math.round(((to - from) * AUDIO_RATE) / 1000));
      const phase0 = (from - turn.fromMs) / 1000;
      for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin(2 * Math.PI * tone * (phase0 + i / AUDIO_RATE)));
      const path = join(o.dir, `a-${t}-${from}.wav`);
      writeFileSync(path, wavBytes(samples));
      audio.push({ path, startTs: o.startTs + from, userId: o.audioStreams === 'participants' ? turn.userId : null });
    }
  }
  return { video, audio };
}
