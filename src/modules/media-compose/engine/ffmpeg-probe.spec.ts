import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeFfmpeg } from './ffmpeg-probe';

describe('probeFfmpeg', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'ffmpeg-probe-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in binary that prints `out` for any arguments. */
  function fakeTool(name: string, script: string): string {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${script}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  it('is not ok, with the reason, when ffmpeg is missing', async () => {
    const probe = await probeFfmpeg({ ffmpegPath: join(dir, 'no-ffmpeg'), ffprobePath: 'ffprobe' });
    expect(probe).toEqual({ ok: false, reason: expect.stringContaining(`${join(dir, 'no-ffmpeg')} could not be started (ENOENT)`) });
  });

  it('is not ok when ffprobe is missing', async () => {
    const ffmpeg = fakeTool('ffmpeg-ok', 'echo "ffmpeg version 9.9 Copyright"');
    const probe = await probeFfmpeg({ ffmpegPath: ffmpeg, ffprobePath: join(dir, 'no-ffprobe') });
    expect(probe).toEqual({ ok: false, reason: expect.stringContaining('no-ffprobe could not be started') });
  });

  it('names the encoders an ffmpeg build lacks', async () => {
    const ffmpeg = fakeTool('ffmpeg-bare', 'case "$2" in -version) echo "ffmpeg version 9.9 Copyright";; -encoders) echo " A..... aac   AAC (Advanced Audio Coding)";; esac');
    const ffprobe = fakeTool('ffprobe-ok', 'echo "ffprobe version 9.9 Copyright"');
    expect(await probeFfmpeg({ ffmpegPath: ffmpeg, ffprobePath: ffprobe })).toEqual({ ok: false, reason: `ffmpeg 9.9 at ${ffmpeg} lacks encoder(s): libx264, libopus` });
  });

  it('is ok with the versions when the system ffmpeg has everything (Debian’s package)', async () => {
    const probe = await probeFfmpeg({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });
    expect(probe).toEqual({ ok: true, version: expect.stringMatching(/^\d/), ffprobeVersion: expect.stringMatching(/^\d/) });
  });
});
