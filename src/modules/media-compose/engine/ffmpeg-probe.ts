import { FfmpegPaths, runTool } from './ffmpeg-runner';

export type FfmpegProbe = { ok: true; version: string; ffprobeVersion: string } | { ok: false; reason: string };

/** Encoders the engine uses: H.264 and AAC for recording.mp4, Opus for per-participant audio. */
export const REQUIRED_ENCODERS = ['libx264', 'aac', 'libopus'] as const;

const PROBE_TIMEOUT_MS = 10_000;

function versionOf(banner: string): string | null {
  return /^\S+ version (\S+)/m.exec(banner)?.[1] ?? null;
}

/**
 * Whether composition can run here: both binaries start, and ffmpeg has the encoders the
 * engine needs. For the boot log and /health/ready; never throws.
 */
export async function probeFfmpeg(paths: FfmpegPaths, signal?: AbortSignal): Promise<FfmpegProbe> {
  const timeout = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  const abort = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    const ffmpeg = await runTool(paths.ffmpegPath, { args: ['-hide_banner', '-version'], captureStdout: true, signal: abort });
    const version = versionOf(ffmpeg.stdout.toString('utf8'));
    if (!version) return { ok: false, reason: `${paths.ffmpegPath} -version did not print an ffmpeg version` };
    const ffprobe = await runTool(paths.ffprobePath, { args: ['-hide_banner', '-version'], captureStdout: true, signal: abort });
    const ffprobeVersion = versionOf(ffprobe.stdout.toString('utf8'));
    if (!ffprobeVersion) return { ok: false, reason: `${paths.ffprobePath} -version did not print an ffprobe version` };
    const encoders = (await runTool(paths.ffmpegPath, { args: ['-hide_banner', '-encoders'], captureStdout: true, signal: abort })).stdout.toString('utf8');
    const missing = REQUIRED_ENCODERS.filter((name) => !new RegExp(`^\\s*\\S+\\s+${name}\\s`, 'm').test(encoders));
    if (missing.length) return { ok: false, reason: `ffmpeg ${version} at ${paths.ffmpegPath} lacks encoder(s): ${missing.join(', ')}` };
    return { ok: true, version, ffprobeVersion };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** What ffprobe reads in a composed file. */
export interface MediaProbe {
  durationMs: number;
  bytes: number;
  streams: { type: string; codec: string; width?: number; height?: number; sampleRate?: number; channels?: number; frameRate?: number; durationMs?: number }[];
}

interface FfprobeJson {
  format?: { duration?: string; size?: string };
  streams?: { codec_type?: string; codec_name?: string; width?: number; height?: number; sample_rate?: string; channels?: number; avg_frame_rate?: string; duration?: string }[];
}

function rate(fraction: string | undefined): number | undefined {
  if (!fraction) return undefined;
  const [num, den] = fraction.split('/').map(Number);
  return den ? num / den : undefined;
}

/** What ffprobe reads in `file`; past `timeoutMs` it is killed (FfmpegTimeoutError). */
export async function probeMedia(ffprobePath: string, file: string, signal?: AbortSignal, timeoutMs?: number): Promise<MediaProbe> {
  const args = ['-v', 'error', '-show_entries', 'format=duration,size:stream=codec_type,codec_name,width,height,sample_rate,channels,avg_frame_rate,duration', '-of', 'json', file];
  const { stdout } = await runTool(ffprobePath, { args, captureStdout: true, signal, timeoutMs });
  const json = JSON.parse(stdout.toString('utf8')) as FfprobeJson;
  return {
    durationMs: Math.round(Number(json.format?.duration ?? 0) * 1000),
    bytes: Number(json.format?.size ?? 0),
    streams: (json.streams ?? []).map((s) => ({
      type: s.codec_type ?? 'unknown',
      codec: s.codec_name ?? 'unknown',
      width: s.width,
      height: s.height,
      sampleRate: s.sample_rate ? Number(s.sample_rate) : undefined,
      channels: s.channels,
      frameRate: rate(s.avg_frame_rate),
      durationMs: s.duration ? Math.round(Number(s.duration) * 1000) : undefined,
    })),
  };
}
