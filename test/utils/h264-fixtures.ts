import { execFile } from 'node:child_process';

/**
 * Real media for compose tests, made with the system ffmpeg (Debian's package; CI installs
 * it): H.264 Annex-B segments as capture stores them (SPS+PPS before every IDR,
 * Constrained Baseline, no B-frames), and PCM tones.
 */
export function h264Segment(color: string, frames: number, opts: { fps?: number; width?: number; height?: number } = {}): Promise<Buffer> {
  const fps = opts.fps ?? 25;
  const size = `${opts.width ?? 320}x${opts.height ?? 240}`;
  const args = [
    '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', `color=c=${color}:s=${size}:r=${fps}`,
    '-frames:v', String(frames),
    '-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-bf', '0',
    '-x264-params', `keyint=${fps}:min-keyint=${fps}:scenecut=0:repeat-headers=1`,
    '-f', 'h264', 'pipe:1',
  ];
  return new Promise((resolve, reject) => {
    execFile('ffmpeg', args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ffmpeg could not make the H.264 fixture: ${stderr.toString().slice(-500) || err.message}`));
      else resolve(stdout);
    });
  });
}

/** PCM s16le mono: a sine tone of `hz` (0 = silence) lasting `ms`. */
export function tone(hz: number, ms: number, sampleRate = 16000, amplitude = 0.5): Buffer {
  const n = Math.round((ms * sampleRate) / 1000);
  const pcm = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) pcm.writeInt16LE(hz === 0 ? 0 : Math.round(Math.sin((2 * Math.PI * hz * i) / sampleRate) * amplitude * 32767), i * 2);
  return pcm;
}

/** A small playable MP4 (H.264 + AAC, moov first) of `seconds`, written to `file`. */
export function playableMp4(file: string, seconds: number): Promise<void> {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', '-shortest', file,
  ];
  return new Promise((resolve, reject) => {
    execFile('ffmpeg', args, (err, _stdout, stderr) => (err ? reject(new Error(`ffmpeg could not make the MP4: ${String(stderr).slice(-500)}`)) : resolve()));
  });
}

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  sample_rate?: string;
}

/** ffprobe's view of a file: its streams and its duration (s). */
export function ffprobe(file: string): Promise<{ streams: ProbedStream[]; format: { duration: string; format_name: string } }> {
  return new Promise((resolve, reject) => {
    execFile('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout) as { streams: ProbedStream[]; format: { duration: string; format_name: string } });
    });
  });
}
