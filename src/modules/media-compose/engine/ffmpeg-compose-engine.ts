import { open, readFile, rm, stat } from 'node:fs/promises';
import { AudioPieceInfo, AudioPlan, planAudio, renderTimeline } from './audio-timeline';
import { parameterSets, splitAccessUnits, withParameterSets, type AccessUnit } from './annexb';
import { buildBlackPictureArgs, buildComposeArgs, buildParticipantAudioArgs, DEFAULT_ENCODER_SETTINGS, EncoderSettings, VideoPresetChoice } from './compose-args';
import { reportGaps } from './compose-gaps';
import type { AudioPieceInput, ComposeEngine, ComposeGap, ComposeInput, ComposeResult } from './compose-types';
import { probeMedia } from './ffmpeg-probe';
import { FfmpegPaths, parseBenchmarkCpuMs, runTool } from './ffmpeg-runner';
import { MpegTsWriter } from './mpegts-writer';
import { planVideo, PlannedFrame, VideoPlan } from './video-plan';
import { parseWavHeader, toMonoAtRate, WavFormat } from './wav';

/** The input is unusable as given (window, output size, an unreadable piece): retrying will not help. */
export class ComposeInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ComposeInputError';
  }
}

/** One participant's audio, on request: their pieces only, on the recording's window. */
export interface ParticipantAudioInput {
  startTs: number;
  endTs: number;
  userId: string;
  /** That participant's pieces (others are ignored). */
  audio: AudioPieceInput[];
}

export interface ParticipantAudioResult {
  durationMs: number;
  bytes: number;
  codec: 'opus';
  /** Stretches with no audio of this participant (silence in the file). */
  gaps: ComposeGap[];
  cpuMs: number;
}

export interface ParticipantAudioEncoder {
  /** Builds `outFile` (Opus in Ogg) holding one participant's audio over the window. */
  participantAudio(input: ParticipantAudioInput, outFile: string, signal?: AbortSignal): Promise<ParticipantAudioResult>;
}

export interface FfmpegComposeEngineOptions extends FfmpegPaths {
  encoder?: Partial<EncoderSettings>;
  /** Opus bitrate of per-participant audio (kb/s). */
  participantAudioKbps?: number;
  /** When a run of ffmpeg or ffprobe is taken for hung and killed (default: TOOL_DEADLINE). */
  deadline?: ToolDeadline;
}

/** A run of ffmpeg/ffprobe is killed after `baseMs` plus `windowFactor` × the window's length. */
export interface ToolDeadline {
  baseMs: number;
  windowFactor: number;
}

/**
 * 10 minutes plus the window's length: composing costs ~5–20 % of the window in CPU at
 * the default presets (bench:compose), so only a hung run (a stalled disk or mount, a
 * stuck pipe) gets there. It is killed and the attempt retried (compose-errors.ts).
 */
export const TOOL_DEADLINE: ToolDeadline = { baseMs: 10 * 60_000, windowFactor: 1 };

/** Bytes of a WAV file read to find its data chunk (fmt + LIST chunks fit many times over). */
const WAV_HEADER_BYTES = 64 * 1024;
/** The MPEG-TS feed is handed to ffmpeg in chunks of about this size. */
const FEED_CHUNK_BYTES = 256 * 1024;
/** Raw H.264 segments kept in memory while feeding (a resumed segment is usually one of the last few). */
const SEGMENT_CACHE = 4;
/**
 * Files indexed at once: an hour holds ~1,800 video segments and as many audio pieces,
 * and opening them all together would exhaust file descriptors and hold every segment in memory.
 */
const FILE_CONCURRENCY = 8;
/** MPEG-TS timestamps are 33 bits of 90 kHz: about 26.5 hours before they wrap. */
const MAX_WINDOW_MS = 24 * 3600_000;

interface IndexedSegment {
  path: string;
  units: AccessUnit[];
}

interface IndexedAudio {
  info: AudioPieceInfo[];
  formats: WavFormat[];
}

/**
 * The compose engine on ffmpeg. Node does the exact timing, ffmpeg the codecs:
 *  - video: each stored access unit goes into an MPEG-TS feed with its own Zoom timestamp
 *    as PTS (mpegts-writer.ts), with a black picture at the start of every gap
 *    (video-plan.ts); ffmpeg decodes, scales to the output size and samples onto the
 *    constant frame-rate grid anchored at startTs (compose-args.ts);
 *  - audio: one PCM timeline built in Node, every piece at the sample its own timestamp
 *    names, silence between, participants summed (audio-timeline.ts), piped raw;
 * so audio and video share one clock (Zoom's) and nothing accumulates drift: a picture is
 * at most half a frame interval off its timestamp, a sample exactly on it, for any length.
 */
export class FfmpegComposeEngine implements ComposeEngine, ParticipantAudioEncoder {
  private readonly encoder: EncoderSettings;
  private readonly blackPictures = new Map<string, Promise<{ bytes: Buffer; cpuMs: number }>>();

  constructor(private readonly options: FfmpegComposeEngineOptions) {
    this.encoder = { ...DEFAULT_ENCODER_SETTINGS, ...options.encoder };
  }

  /** How long a run of ffmpeg or ffprobe for a window of `windowMs` may take. */
  private deadlineMs(windowMs: number): number {
    const d = this.options.deadline ?? TOOL_DEADLINE;
    return d.baseMs + d.windowFactor * windowMs;
  }

  /** From the app config's `composeEngine` section (FFMPEG_PATH, FFPROBE_PATH, COMPOSE_VIDEO_PRESET, COMPOSE_VIDEO_CRF). */
  static fromConfig(config: { ffmpegPath: string; ffprobePath: string; videoPreset: VideoPresetChoice; videoCrf: number }): FfmpegComposeEngine {
    return new FfmpegComposeEngine({ ffmpegPath: config.ffmpegPath, ffprobePath: config.ffprobePath, encoder: { videoPreset: config.videoPreset, videoCrf: config.videoCrf } });
  }

  async compose(input: ComposeInput, outFile: string, signal?: AbortSignal): Promise<ComposeResult> {
    validateInput(input);
    const { width, height, fps } = input.output;
    const window = { startTs: input.startTs, endTs: input.endTs };
    const segments = await mapLimit(input.video, FILE_CONCURRENCY, (s) => indexSegment(s.path));
    const plan = await planVideo(
      input.video.map((s, i) => {
        const count = Math.min(s.frameTs.length, segments[i].units.length);
        return { frameTs: s.frameTs.slice(0, count), idr: segments[i].units.slice(0, count).map((u) => u.idr) };
      }),
      window,
      fps,
    );
    const audio = await indexAudio(input.audio);
    const audioPlan = planAudio(audio.info, window);
    const black = await this.blackPicture(width, height, fps, signal);
    const timeoutMs = this.deadlineMs(input.endTs - input.startTs);

    const intervalMs = 1000 / fps;
    const first = plan.frames[0];
    // The feed opens with a black picture a whole number of frames before startTs: ffmpeg
    // counts time from the feed's first timestamp, so the output grid lands on startTs exactly.
    const prerollFrames = Math.floor((input.startTs - first.ts) / intervalMs) + 1;
    const anchorTs = input.startTs - prerollFrames * intervalMs;
    const last = plan.frames[plan.frames.length - 1];
    const args = buildComposeArgs({
      width,
      height,
      fps,
      frames: Math.round(((input.endTs - input.startTs) * fps) / 1000),
      prerollFrames,
      holdSeconds: (input.endTs - last.ts) / 1000,
      pcmSampleRate: audioPlan.sampleRate,
      outFile,
      encoder: this.encoder,
    });
    try {
      const run = await runTool(this.options.ffmpegPath, {
        args,
        signal,
        timeoutMs,
        inputs: [
          { fd: 3, data: videoFeed(plan, segments, black.bytes, anchorTs) },
          { fd: 4, data: renderTimeline(audioPlan, pieceLoader(input.audio, audio, audioPlan)) },
        ],
      });
      const probe = await probeMedia(this.options.ffprobePath, outFile, signal, timeoutMs);
      const v = probe.streams.find((s) => s.type === 'video');
      const a = probe.streams.find((s) => s.type === 'audio');
      if (v?.codec !== 'h264' || a?.codec !== 'aac') throw new Error(`composed file has ${v?.codec ?? 'no'} video and ${a?.codec ?? 'no'} audio, expected h264 + aac`);
      return {
        durationMs: probe.durationMs,
        bytes: probe.bytes || (await stat(outFile)).size,
        video: { codec: 'h264', width: v.width ?? width, height: v.height ?? height, fps },
        audio: { codec: 'aac', sampleRate: a.sampleRate ?? this.encoder.audioSampleRate, channels: a.channels ?? 1 },
        gaps: reportGaps({ from: input.startTs, to: input.endTs }, input.knownGaps, plan.noVideo, audioPlan.noAudio),
        cpuMs: (parseBenchmarkCpuMs(run.stderrTail) ?? 0) + black.cpuMs,
      };
    } catch (error) {
      await rm(outFile, { force: true });
      throw error;
    }
  }

  async participantAudio(input: ParticipantAudioInput, outFile: string, signal?: AbortSignal): Promise<ParticipantAudioResult> {
    if (!(input.endTs > input.startTs) || input.endTs - input.startTs > MAX_WINDOW_MS) throw new ComposeInputError('endTs must follow startTs, within 24 h');
    const pieces = input.audio.filter((p) => p.userId === input.userId);
    const audio = await indexAudio(pieces);
    const window = { startTs: input.startTs, endTs: input.endTs };
    const plan = planAudio(audio.info, window);
    const args = buildParticipantAudioArgs({ pcmSampleRate: plan.sampleRate, bitrateKbps: this.options.participantAudioKbps ?? 32, outFile });
    const timeoutMs = this.deadlineMs(input.endTs - input.startTs);
    try {
      const run = await runTool(this.options.ffmpegPath, { args, signal, timeoutMs, inputs: [{ fd: 3, data: renderTimeline(plan, pieceLoader(pieces, audio, plan)) }] });
      const probe = await probeMedia(this.options.ffprobePath, outFile, signal, timeoutMs);
      return {
        durationMs: probe.durationMs,
        bytes: probe.bytes || (await stat(outFile)).size,
        codec: 'opus',
        gaps: reportGaps({ from: input.startTs, to: input.endTs }, [], [], plan.noAudio),
        cpuMs: parseBenchmarkCpuMs(run.stderrTail) ?? 0,
      };
    } catch (error) {
      await rm(outFile, { force: true });
      throw error;
    }
  }

  /** One black IDR picture at the output size, encoded once per size (Annex-B). */
  private blackPicture(width: number, height: number, fps: number, signal?: AbortSignal): Promise<{ bytes: Buffer; cpuMs: number }> {
    const key = `${width}x${height}@${fps}`;
    let picture = this.blackPictures.get(key);
    if (!picture) {
      picture = runTool(this.options.ffmpegPath, { args: buildBlackPictureArgs(width, height, fps), captureStdout: true, signal, timeoutMs: this.deadlineMs(0) }).then((r) => ({
        bytes: r.stdout,
        cpuMs: parseBenchmarkCpuMs(r.stderrTail) ?? 0,
      }));
      picture.catch(() => this.blackPictures.delete(key));
      this.blackPictures.set(key, picture);
      return picture;
    }
    return picture.then((p) => ({ bytes: p.bytes, cpuMs: 0 }));
  }
}

function validateInput(input: ComposeInput): void {
  const { width, height, fps } = input.output;
  if (!Number.isFinite(input.startTs) || !Number.isFinite(input.endTs) || input.endTs <= input.startTs) throw new ComposeInputError('endTs must follow startTs');
  if (input.endTs - input.startTs > MAX_WINDOW_MS) throw new ComposeInputError('a recording window is at most 24 h');
  // yuv420p needs even dimensions.
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 16 || v > 4096 || v % 2 !== 0) throw new ComposeInputError(`output.${name} must be an even integer in 16..4096`);
  }
  if (!(fps > 0 && fps <= 60)) throw new ComposeInputError('output.fps must be in (0, 60]');
}

/** `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function indexSegment(path: string): Promise<IndexedSegment> {
  return { path, units: splitAccessUnits(await readFile(path)) };
}

async function indexAudio(pieces: AudioPieceInput[]): Promise<IndexedAudio> {
  const formats = await mapLimit(pieces, FILE_CONCURRENCY, async (p) => {
    const file = await open(p.path, 'r');
    try {
      const { size } = await file.stat();
      const head = Buffer.alloc(Math.min(size, WAV_HEADER_BYTES));
      await file.read(head, 0, head.length, 0);
      return parseWavHeader(head, size);
    } catch (error) {
      throw new ComposeInputError(`audio piece ${p.path}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await file.close();
    }
  });
  const info = pieces.map((p, i) => ({ startTs: p.startTs, userId: p.userId, sampleRate: formats[i].sampleRate, frames: formats[i].dataBytes / (2 * formats[i].channels) }));
  return { info, formats };
}

/** Reads a piece's samples when the timeline reaches it, as mono at the plan's rate. */
function pieceLoader(pieces: AudioPieceInput[], audio: IndexedAudio, plan: AudioPlan) {
  return async (index: number): Promise<Int16Array> => {
    const format = audio.formats[index];
    const file = await open(pieces[index].path, 'r');
    try {
      const bytes = Buffer.alloc(format.dataBytes);
      await file.read(bytes, 0, bytes.length, format.dataOffset);
      const samples = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
      return toMonoAtRate(samples, format.channels, format.sampleRate, plan.sampleRate);
    } finally {
      await file.close();
    }
  };
}

/** The MPEG-TS feed: every planned picture at 90 kHz from `anchorTs`, after a black picture there. */
async function* videoFeed(plan: VideoPlan, segments: IndexedSegment[], black: Buffer, anchorTs: number): AsyncGenerator<Buffer> {
  const writer = new MpegTsWriter();
  const cache = new Map<number, Buffer>();
  const bytesOf = async (frame: PlannedFrame): Promise<Buffer> => {
    if (frame.kind === 'black') return black;
    let data = cache.get(frame.segment);
    if (!data) {
      data = await readFile(segments[frame.segment].path);
      cache.set(frame.segment, data);
      if (cache.size > SEGMENT_CACHE) cache.delete(cache.keys().next().value as number);
    }
    const { units } = segments[frame.segment];
    const unit = units[frame.unit];
    const bytes = data.subarray(unit.offset, unit.offset + unit.length);
    if (!unit.idr || unit.sps) return bytes;
    // An IDR after the segment's first (a resumption, or the entry point of the window)
    // may rely on parameter sets sent once at the segment's start: send them again.
    const withSps = units.find((u) => u.sps);
    return withSps ? withParameterSets(bytes, parameterSets(data.subarray(withSps.offset, withSps.offset + withSps.length))) : bytes;
  };
  const pts = (ts: number) => Math.round((ts - anchorTs) * 90);
  let pending: Buffer[] = [writer.accessUnit(black, 0)];
  let pendingBytes = pending[0].length;
  for (const frame of plan.frames) {
    const packets = writer.accessUnit(await bytesOf(frame), pts(frame.ts));
    pending.push(packets);
    pendingBytes += packets.length;
    if (pendingBytes >= FEED_CHUNK_BYTES) {
      yield Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pending.length) yield Buffer.concat(pending);
}
