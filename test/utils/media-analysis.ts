import { spawnSync } from 'node:child_process';

/** Reads a media file's contents back with ffmpeg, to check what a composed file really holds. */

function ffmpegOut(args: string[]): Buffer {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { maxBuffer: 512 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${r.stderr?.toString()}`);
  return r.stdout;
}

/** The file's (first) audio track decoded to mono 16-bit PCM at `rate`, edit lists applied (AAC priming removed). */
export function decodeMonoPcm(file: string, rate = 16000): Int16Array {
  const bytes = ffmpegOut(['-i', file, '-map', '0:a:0', '-ac', '1', '-ar', String(rate), '-f', 's16le', 'pipe:1']);
  return new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

/** Goertzel power of one frequency over a block of samples. */
function power(block: Int16Array, hz: number, rate: number): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let s1 = 0;
  let s2 = 0;
  for (const v of block) {
    const s0 = v + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coefficient * s1 * s2;
}

/**
 * Which of `tones` dominates each `blockMs` block (its index), or -1 for silence. A tone
 * counts when it carries most of the block's energy: a block where two tones meet goes to
 * the louder one, so an onset is placed within one block.
 */
export function toneBlocks(pcm: Int16Array, tones: number[], rate = 16000, blockMs = 10): number[] {
  const size = Math.round((rate * blockMs) / 1000);
  const out: number[] = [];
  for (let start = 0; start + size <= pcm.length; start += size) {
    const block = pcm.subarray(start, start + size);
    let energy = 0;
    for (const v of block) energy += v * v;
    if (energy / size < 1000) {
      out.push(-1); // RMS below ~32 of 32767: silence
      continue;
    }
    const powers = tones.map((hz) => power(block, hz, rate));
    out.push(powers.indexOf(Math.max(...powers)));
  }
  return out;
}

export type FrameColour = 'red' | 'green' | 'blue' | 'black' | 'other';

/** The colour at the centre of every decoded video frame, in presentation order. */
export function frameColours(file: string): FrameColour[] {
  const raw = ffmpegOut(['-i', file, '-map', '0:v:0', '-vf', 'scale=16:9', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
  const frameBytes = 16 * 9 * 3;
  const centre = (4 * 16 + 8) * 3;
  const colours: FrameColour[] = [];
  for (let f = 0; f + frameBytes <= raw.length; f += frameBytes) {
    const [r, g, b] = [raw[f + centre], raw[f + centre + 1], raw[f + centre + 2]];
    if (r < 30 && g < 30 && b < 30) colours.push('black');
    else if (r > 150 && g < 80 && b < 80) colours.push('red');
    else if (g > 80 && r < 80 && b < 80) colours.push('green');
    else if (b > 150 && r < 80 && g < 80) colours.push('blue');
    else colours.push('other');
  }
  return colours;
}

/**
 * Where tone `index` starts (ms): the first block of a run of at least `minBlocks` blocks
 * of it. A lone block is not an onset: a tone cut off abruptly rings across the spectrum
 * for a block after AAC, and may name another tone there. -1 when it never sounds.
 */
export function toneOnsetMs(blocks: number[], index: number, blockMs = 10, minBlocks = 5): number {
  for (let i = 0; i + minBlocks <= blocks.length; i++) {
    if (blocks.slice(i, i + minBlocks).every((b) => b === index)) return i * blockMs;
  }
  return -1;
}
