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
