import { assemblePackets, parseWav, sampleRateHz, toWav } from './wav';

describe('wav', () => {
  it('writes a valid header for the negotiated format', () => {
    const pcm = Buffer.alloc(16000 * 2); // 1 s of 16 kHz mono
    const info = parseWav(toWav(pcm, 16000, 1));
    expect(info).toEqual({ sampleRate: 16000, channels: 1, bitsPerSample: 16, dataBytes: 32000, durationMs: 1000 });
    expect(parseWav(toWav(Buffer.alloc(48000 * 4), 48000, 2)).durationMs).toBe(1000);
  });

  it('maps Zoom sample-rate enums and Hz', () => {
    expect([0, 1, 2, 3, 44100, 'x', undefined].map(sampleRateHz)).toEqual([8000, 16000, 32000, 48000, 44100, 16000, 16000]);
  });

  it('orders packets, drops re-sent ones and records gaps', () => {
    const pkt = (ts: number) => ({ ts, data: Buffer.alloc(640, ts % 251) });
    const res = assemblePackets([pkt(40), pkt(0), pkt(20), pkt(20), pkt(100), pkt(120)], 16000, 1);
    expect(res.packets).toBe(5);
    expect(res.duplicates).toBe(1);
    expect(res.pcm.length).toBe(5 * 640);
    expect(res.gaps).toEqual([{ at_ms: 60, missing_ms: 40 }]);
    expect(res.pcm.subarray(640, 1280).equals(Buffer.alloc(640, 20))).toBe(true);
  });
});

describe('wav: samples stay aligned', () => {
  /** 16-bit LE samples of 0x0102, `n` bytes (an odd `n` ends with half a sample). */
  const samples = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i + 1 < n; i += 2) b.writeInt16LE(0x0102, i);
    return b;
  };

  it('cuts a packet of odd length to whole samples and counts it, so the packets after it are not shifted by a byte', () => {
    const res = assemblePackets([{ ts: 0, data: samples(640) }, { ts: 20, data: samples(639) }, { ts: 40, data: samples(640) }], 16000, 1);
    expect(res.pcm.length).toBe(640 + 638 + 640);
    for (let i = 0; i < res.pcm.length; i += 2) expect(res.pcm.readInt16LE(i)).toBe(0x0102);
    expect(res.trimmed).toBe(1);
    expect(res.gaps).toEqual([]);
    // Stereo: whole frames of 4 bytes.
    expect(assemblePackets([{ ts: 0, data: samples(642) }], 16000, 2)).toMatchObject({ trimmed: 1, pcm: samples(640) });
  });

  it('pads a data chunk of odd length (RIFF chunks are word-aligned) and still reads it back', () => {
    const wav = toWav(Buffer.alloc(3, 1), 16000, 1);
    expect(wav.length).toBe(44 + 4);
    expect(wav.readUInt32LE(4)).toBe(36 + 4);
    expect(wav.readUInt32LE(40)).toBe(3);
    expect(parseWav(wav).dataBytes).toBe(3);
  });
});
