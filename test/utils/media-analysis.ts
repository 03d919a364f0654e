import { execFile } from 'node:child_process';

function ffmpegOut(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(stderr.toString().slice(-500) || err.message));
      else resolve(stdout);
    });
  });
}

/** The time (ms from the file's start) of the first 10 ms window whose RMS passes `threshold` (0–1), at or after `fromMs`. */
export async function audioOnsetMs(file: string, fromMs = 0, threshold = 0.05): Promise<number | null> {
  const rate = 16000;
  const pcm = await ffmpegOut(['-i', file, '-vn', '-ac', '1', '-ar', String(rate), '-f', 's16le', 'pipe:1']);
  const win = rate / 100;
  for (let start = Math.floor((fromMs * rate) / 1000); (start + win) * 2 <= pcm.length; start += win) {
    let sum = 0;
    for (let i = 0; i < win; i++) {
      const v = pcm.readInt16LE((start + i) * 2) / 32768;
      sum += v * v;
    }
    if (Math.sqrt(sum / win) > threshold) return (start / rate) * 1000;
  }
  return null;
}

/** Average RGB of every decoded video frame, with its presentation time (ms). */
export async function frameColours(file: string): Promise<Array<{ ms: number; r: number; g: number; b: number }>> {
  const raw = await ffmpegOut(['-i', file, '-an', '-vf', 'scale=4:4', '-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
  // Each decoded frame's presentation time, in decode output order (the same order as the raw frames).
  const times = await new Promise<number[]>((resolve, reject) => {
    execFile('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time,best_effort_timestamp_time', '-of', 'csv=p=0', file], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout.trim().split('\n').map((l) => Number(l.split(',').find((x) => x !== '' && x !== 'N/A')) * 1000));
    });
  });
  const size = 4 * 4 * 3;
  const out: Array<{ ms: number; r: number; g: number; b: number }> = [];
  for (let i = 0; i * size < raw.length && i < times.length; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    for (let p = 0; p < 16; p++) {
      r += raw[i * size + p * 3];
      g += raw[i * size + p * 3 + 1];
      b += raw[i * size + p * 3 + 2];
    }
    out.push({ ms: times[i], r: r / 16, g: g / 16, b: b / 16 });
  }
  return out;
}
