import { ReconnectPolicy } from './reconnect-policy';

describe('ReconnectPolicy', () => {
  it('backs off exponentially with jitter, capped, and stops at the window', () => {
    let now = 0;
    const p = new ReconnectPolicy(100, 1000, () => 1, () => now);
    expect(p.nextDelay(5000)).toBe(100);
    expect(p.nextDelay(5000)).toBe(200);
    expect(p.nextDelay(5000)).toBe(400);
    expect(p.nextDelay(5000)).toBe(800);
    expect(p.nextDelay(5000)).toBe(1000);
    now = 4900;
    expect(p.nextDelay(5000)).toBe(100); // never past the window's end
    now = 5000;
    expect(p.nextDelay(5000)).toBeNull();
  });

  it('jitters between half and the full delay', () => {
    const low = new ReconnectPolicy(1000, 10000, () => 0, () => 0);
    expect(low.nextDelay(60000)).toBe(500);
  });

  it('reset starts a new outage', () => {
    let now = 0;
    const p = new ReconnectPolicy(100, 1000, () => 1, () => now);
    p.nextDelay(1000);
    now = 2000;
    expect(p.nextDelay(1000)).toBeNull();
    p.reset();
    expect(p.nextDelay(1000)).toBe(100);
  });
});
