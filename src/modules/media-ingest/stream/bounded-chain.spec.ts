import { BoundedChain } from './bounded-chain';
import { MAX_TRACKED_PARTICIPANTS } from './participant-cap';

describe('BoundedChain (a stream\'s record chain)', () => {
  it('runs tasks in order, refuses and counts past its cap while the head is stuck, and accepts again once it drains', async () => {
    const chain = new BoundedChain(3);
    const ran: number[] = [];
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    expect(chain.push(() => stuck.then(() => void ran.push(0)))).toBe(true);
    expect(chain.push(async () => void ran.push(1))).toBe(true);
    expect(chain.push(async () => Promise.reject(new Error('db down')))).toBe(true);
    for (let i = 0; i < 1000; i++) expect(chain.push(async () => void ran.push(99))).toBe(false);
    expect(chain.pending).toBe(3);
    expect(chain.dropped).toBe(1000);
    release();
    await chain.idle();
    expect(ran).toEqual([0, 1]);
    expect(chain.pending).toBe(0);
    expect(chain.push(async () => void ran.push(2))).toBe(true);
    await chain.idle();
    expect(ran).toEqual([0, 1, 2]);
    expect(MAX_TRACKED_PARTICIPANTS).toBeGreaterThanOrEqual(1000);
  });
});
