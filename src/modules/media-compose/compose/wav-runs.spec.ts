import { buildWav, cutWav, parseWav } from './wav-runs';

const fmt = { sampleRate: 16000, channels: 1, bitsPerSample: 16 };

describe('WAV runs', () => {
  it('builds a PCM WAV that parses back to the same format and samples', () => {
    const pcm = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
    const parsed = parseWav(buildWav(pcm, fmt));
    expect(parsed.format).toEqual(fmt);
    expect(parsed.data.equals(pcm)).toBe(true);
  });

  it('walks RIFF chunks (a LIST chunk before data is skipped)', () => {
    const wav = buildWav(Buffer.alloc(8, 7), fmt);
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.alloc(1)]);
    const withList = Buffer.concat([wav.subarray(0, 36), list, wav.subarray(36)]);
    expect(parseWav(withList).data.equals(Buffer.alloc(8, 7))).toBe(true);
  });

  it('cuts the PCM into one WAV per run, the last to the end, empty runs left out', () => {
    const pcm = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    const out = cutWav(buildWav(pcm, fmt), [
      { byteStart: 0, byteLength: 40, file: 'a-0.wav' },
      { byteStart: 40, byteLength: 20, file: 'a-1.wav' },
      { byteStart: 60, byteLength: null, file: 'a-2.wav' },
      { byteStart: 100, byteLength: null, file: 'a-3.wav' },
    ]);
    expect(out.map((o) => o.file)).toEqual(['a-0.wav', 'a-1.wav', 'a-2.wav']);
    expect(parseWav(out[1].wav).data.equals(pcm.subarray(40, 60))).toBe(true);
    expect(parseWav(out[2].wav).data.equals(pcm.subarray(60))).toBe(true);
  });

  it('refuses what is not a PCM WAV', () => {
    expect(() => parseWav(Buffer.from('not a wav at all'))).toThrow('not a RIFF/WAVE file');
    const float = buildWav(Buffer.alloc(4), fmt);
    float.writeUInt16LE(3, 20);
    expect(() => parseWav(float)).toThrow('WAV is not PCM');
  });
});
