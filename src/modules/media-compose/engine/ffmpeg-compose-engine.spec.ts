import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComposeInput } from './compose-types';
import { ComposeInputError, FfmpegComposeEngine } from './ffmpeg-compose-engine';
import { FfmpegNotFoundError } from './ffmpeg-runner';

const T0 = 1_764_500_000_000;
const input = (o: Partial<ComposeInput> = {}): ComposeInput => ({ startTs: T0, endTs: T0 + 1000, video: [], audio: [], knownGaps: [], output: { width: 640, height: 360, fps: 25 }, ...o });

describe('FfmpegComposeEngine (without running ffmpeg)', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'compose-engine-unit-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const engine = new FfmpegComposeEngine({ ffmpegPath: '/nonexistent/ffmpeg', ffprobePath: '/nonexistent/ffprobe' });

  it('refuses an unusable window or output before starting anything', async () => {
    await expect(engine.compose(input({ endTs: T0 }), join(dir, 'a.mp4'))).rejects.toThrow(new ComposeInputError('endTs must follow startTs'));
    await expect(engine.compose(input({ endTs: T0 + 25 * 3600_000 }), join(dir, 'a.mp4'))).rejects.toThrow('at most 24 h');
    await expect(engine.compose(input({ output: { width: 641, height: 360, fps: 25 } }), join(dir, 'a.mp4'))).rejects.toThrow('output.width must be an even integer');
    await expect(engine.compose(input({ output: { width: 640, height: 360, fps: 0 } }), join(dir, 'a.mp4'))).rejects.toThrow('output.fps');
  });

  it('names the audio piece that is not 16-bit PCM WAV', async () => {
    const bad = join(dir, 'bad.wav');
    writeFileSync(bad, 'this is not a wav file');
    await expect(engine.compose(input({ audio: [{ path: bad, startTs: T0, userId: null }] }), join(dir, 'a.mp4'))).rejects.toThrow(`audio piece ${bad}: not a RIFF/WAVE file`);
  });

  it('fails with FfmpegNotFoundError when ffmpeg is missing', async () => {
    await expect(engine.compose(input(), join(dir, 'a.mp4'))).rejects.toBeInstanceOf(FfmpegNotFoundError);
  });
});
