import type { Participant } from './meeting';
import { audibleSegments } from './tone-segments';

const p = (userId: number, extra: Partial<Participant> = {}): Participant => ({ userId, name: `u${userId}`, slot: userId, ...extra });

describe('audible segments (tone onset at the exact sample)', () => {
  const ann = p(1);
  const bob = p(2, { joinAtMs: 1010.5 }); // 16 kHz: sample 16168
  const eve = p(3, { joinAtMs: 0, leaveAtMs: 1005 }); // leaves at sample 16080
  const mute = p(4, { muted: true, joinAtMs: 1001 });

  it('one segment when nobody joins or leaves inside the packet', () => {
    expect(audibleSegments([ann, bob, eve, mute], 0, 320, 16000)).toEqual([{ startSample: 0, count: 320, heard: [ann, eve] }]);
    expect(audibleSegments([ann, bob, eve, mute], 16320, 320, 16000)).toEqual([{ startSample: 16320, count: 320, heard: [ann, bob] }]);
  });

  it('a join or leave inside a packet splits it at that sample (muted participants never count)', () => {
    // Packet 1000–1020 ms at 16 kHz = samples 16000..16320.
    expect(audibleSegments([ann, bob, eve, mute], 16000, 320, 16000)).toEqual([
      { startSample: 16000, count: 80, heard: [ann, eve] },
      { startSample: 16080, count: 88, heard: [ann] },
      { startSample: 16168, count: 152, heard: [ann, bob] },
    ]);
  });

  it('a join exactly on a packet start does not split it', () => {
    const onGrid = p(5, { joinAtMs: 1000 });
    expect(audibleSegments([onGrid], 16000, 320, 16000)).toEqual([{ startSample: 16000, count: 320, heard: [onGrid] }]);
    expect(audibleSegments([onGrid], 15680, 320, 16000)).toEqual([{ startSample: 15680, count: 320, heard: [] }]);
  });
});
