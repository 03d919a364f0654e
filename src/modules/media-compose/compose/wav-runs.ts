/**
 * Cutting a stored WAV segment into its gapless runs (compose-plan.ts audioRuns): each
 * run becomes its own small WAV with the same format, which the engine places at the
 * run's Zoom timestamp.
 */

export interface WavFormat {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
}

/** The format and PCM bytes of a PCM WAV file (RIFF chunks walked, not a fixed 44-byte header). */
export function parseWav(buf: Buffer): { format: WavFormat; data: Buffer } {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  let format: WavFormat | null = null;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (buf.readUInt16LE(body) !== 1) throw new Error('WAV is not PCM');
      format = { channels: buf.readUInt16LE(body + 2), sampleRate: buf.readUInt32LE(body + 4), bitsPerSample: buf.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (!format) throw new Error('WAV data chunk before its fmt chunk');
      return { format, data: buf.subarray(body, Math.min(buf.length, body + size)) };
    }
    offset = body + size + (size % 2);
  }
  throw new Error('WAV has no data chunk');
}

/** A PCM WAV file of `pcm`. */
export function buildWav(pcm: Buffer, f: WavFormat): Buffer {
  const header = Buffer.alloc(44);
  const blockAlign = (f.channels * f.bitsPerSample) / 8;
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(f.channels, 22);
  header.writeUInt32LE(f.sampleRate, 24);
  header.writeUInt32LE(f.sampleRate * blockAlign, 28);
  header.writeUInt16LE(blockAlign, 32);
  header.writeUInt16LE(f.bitsPerSample, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}

/** The WAV of each run (byteStart/byteLength into the PCM), empty runs left out. */
export function cutWav(wav: Buffer, runs: Array<{ byteStart: number; byteLength: number | null; file: string }>): Array<{ file: string; wav: Buffer }> {
  const { format, data } = parseWav(wav);
  const out: Array<{ file: string; wav: Buffer }> = [];
  for (const r of runs) {
    const end = r.byteLength === null ? data.length : Math.min(data.length, r.byteStart + r.byteLength);
    if (end <= r.byteStart) continue;
    out.push({ file: r.file, wav: buildWav(data.subarray(r.byteStart, end), format) });
  }
  return out;
}
