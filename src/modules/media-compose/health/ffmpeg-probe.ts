import { execFile } from 'node:child_process';

export type FfmpegProbe = { ok: true; version: string; path: string } | { ok: false; reason: string; path: string };

/**
 * Runs `ffmpeg -version` (FFMPEG_PATH, else `ffmpeg` on PATH) with an args array (no
 * shell) and a timeout: the first line's version, or why it could not run.
 */
export function probeFfmpeg(path: string, timeoutMs = 5000): Promise<FfmpegProbe> {
  return new Promise((resolve) => {
    execFile(path, ['-hide_banner', '-version'], { timeout: timeoutMs, maxBuffer: 256 * 1024 }, (err, stdout) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        resolve({ ok: false, path, reason: code === 'ENOENT' ? `${path} not found` : `${path} -version failed: ${err.message.split('\n')[0]}` });
        return;
      }
      const m = /ffmpeg version (\S+)/.exec(stdout);
      resolve({ ok: true, path, version: m ? m[1] : stdout.split('\n')[0].slice(0, 80) });
    });
  });
}
