import * as jpeg from 'jpeg-js';
import { audioPacket, muLaw, pcmTones, toneHz, videoFrame } from './media';

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

describe('simulator video frames', () => {
  it('with camera grain are decodable JPEGs of a camera frame\'s size, the same on every call', () => {
    const size = { width: 640, height: 360 };
    const flat = videoFrame(3, 1, size, 5);
    const grain = videoFrame(3, 1, size, 5, false, true);
    const bytes = Buffer.from(grain.base64, 'base64');
    expect(bytes.length).toBe(grain.length);
    const img = jpeg.decode(bytes, { useTArray: true });
    expect([img.width, img.height]).toEqual([640, 360]);
    expect(grain.length).toBeGreaterThan(2 * flat.length);
    expect(grain.length).toBeGreaterThan(15_000);
    expect(videoFrame(3, 1, size, 5, false, true)).toBe(grain);
    expect(videoFrame(3, 2, size, 5, false, true).base64).not.toBe(grain.base64);
  });
});
