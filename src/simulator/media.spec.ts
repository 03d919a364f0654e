import { audioPacket, muLaw, pcmTones, toneHz } from './media';

const samples = (b: Buffer) => Array.from({ length: b.length / 2 }, (_, i) => b.readInt16LE(i * 2));

describe('simulator audio packets', () => {
  it('a cached packet is the tone at that start (to one step of rounding), whatever the cycle', () => {
    for (const freqs of [[toneHz(0)], [toneHz(3)], [toneHz(1), toneHz(2)]]) {
      for (const start of [0, 320, 640, 123_456 * 320, 999_999 * 320]) {
        const packet = audioPacket(freqs, 16000, start, 320, 1, false);
        const expected = samples(pcmTones(freqs, 16000, start, 320, 1));
        const got = samples(Buffer.from(packet.base64, 'base64'));
        expect(packet.length).toBe(640);
        expect(got.every((v, i) => Math.abs(v - expected[i]) <= 1)).toBe(true);
      }
    }
  });

  it('µ-law packets are the µ-law of the tone', () => {
    const packet = audioPacket([toneHz(0)], 8000, 160, 160, 1, true);
    expect(packet.length).toBe(160);
    expect(packet.base64).toBe(muLaw(pcmTones([toneHz(0)], 8000, 160, 160, 1)).toString('base64'));
  });
});
