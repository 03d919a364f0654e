/** The PCM layout of a WAV file, read from its RIFF header. */
export interface WavFormat {
  sampleRate: number;
  channels: number;
  /** Where the samples start in the file, and how many bytes of them there are. */
  dataOffset: number;
  dataBytes: number;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/**
 * Parses a 16-bit PCM WAV header. `fileSize` bounds the data chunk: a WAV written while
 * streaming may carry a placeholder length (0 or 0xFFFFFFFF).
 */
export function parseWavHeader(head: Buffer, fileSize: number): WavFormat {
  if (head.length < 12 || head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let pos = 12;
  let format: { sampleRate: number; channels: number } | null = null;
  while (pos + 8 <= head.length) {
    const id = head.toString('ascii', pos, pos + 4);
    const size = head.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'fmt ') {
      const tag = head.readUInt16LE(body);
      const bits = head.readUInt16LE(body + 14);
      if ((tag !== WAVE_FORMAT_PCM && tag !== WAVE_FORMAT_EXTENSIBLE) || bits !== 16) {
        throw new Error(`unsupported WAV format (tag ${tag}, ${bits} bits): 16-bit PCM expected`);
      }
      format = { channels: head.readUInt16LE(body + 2), sampleRate: head.readUInt32LE(body + 4) };
    } else if (id === 'data') {
      if (!format) throw new Error('WAV data chunk before its fmt chunk');
      if (format.channels < 1 || format.sampleRate < 1) throw new Error('WAV header with no channels or no sample rate');
      const available = Math.max(0, fileSize - body);
      const declared = size === 0 || size === 0xffffffff ? available : Math.min(size, available);
      const frameBytes = 2 * format.channels;
      return { ...format, dataOffset: body, dataBytes: declared - (declared % frameBytes) };
    }
    pos = body + size + (size % 2);
  }
  throw new Error('WAV header without a data chunk in its first bytes');
}

/** Interleaved 16-bit samples → mono (channel average), resampled linearly to `rate`. */
export function toMonoAtRate(samples: Int16Array, channels: number, fromRate: number, rate: number): Int16Array {
  let mono = samples;
  if (channels > 1) {
    mono = new Int16Array(Math.floor(samples.length / channels));
    for (let i = 0; i < mono.length; i++) {
      let sum = 0;
      for (let c = 0; c < channels; c++) sum += samples[i * channels + c];
      mono[i] = Math.round(sum / channels);
    }
  }
  if (fromRate === rate || mono.length === 0) return mono;
  const out = new Int16Array(Math.round((mono.length * rate) / fromRate));
  const step = fromRate / rate;
  for (let i = 0; i < out.length; i++) {
    const x = i * step;
    const j = Math.floor(x);
    const a = mono[Math.min(j, mono.length - 1)];
    const b = mono[Math.min(j + 1, mono.length - 1)];
    out[i] = Math.round(a + (b - a) * (x - j));
  }
  return out;
}
