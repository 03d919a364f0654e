import { STREAM_LEASE_MARGIN_MS, STREAM_LOCK_DURATION_MS, STREAM_LOCK_RENEW_MS, StreamLease } from './stream-lease';

/**
 * The holder must close its sockets before its lock can expire in Redis (else a standby
 * could connect while the old connection is up). The lock set by a request sent at t
 * expires no earlier than t + lockDuration; these tests drive the lease on a fake clock.
 */
describe('StreamLease (self-fencing holder)', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    jest.useFakeTimers();
    now = 0;
  });
  afterEach(() => jest.useRealTimers());
  /** The fake clock and the fake timers move together, 1 ms at a time. */
  const advance = (ms: number) => {
    for (let i = 0; i < ms; i++) {
      now += 1;
      jest.advanceTimersByTime(1);
    }
  };

  it('the timing leaves room: renewal period + a slow reply fit before the fence, and the fence comes before expiry', () => {
    // BullMQ renews a lock at most lockRenewTime after the last renewal was sent.
    expect(STREAM_LOCK_RENEW_MS).toBeLessThan(STREAM_LOCK_DURATION_MS - STREAM_LEASE_MARGIN_MS - 500);
    expect(STREAM_LEASE_MARGIN_MS).toBeGreaterThanOrEqual(300);
  });

  it('a holder whose renewals stop (Redis unreachable) fences itself before the lock could have expired', () => {
    const lease = new StreamLease(STREAM_LOCK_DURATION_MS, STREAM_LEASE_MARGIN_MS, 0, clock);
    const fencedAt: number[] = [];
    lease.watch(() => fencedAt.push(now));
    // Renewals every lockRenewTime (BullMQ's slowest), each confirmed…
    let lastSent = 0;
    for (let t = STREAM_LOCK_RENEW_MS; t <= 4000; t += STREAM_LOCK_RENEW_MS) {
      advance(STREAM_LOCK_RENEW_MS);
      lastSent = t;
      lease.renewed(t);
    }
    expect(fencedAt).toEqual([]);
    // …then none is confirmed any more.
    advance(5000);
    expect(fencedAt).toHaveLength(1);
    const earliestExpiry = lastSent + STREAM_LOCK_DURATION_MS;
    expect(fencedAt[0]).toBeLessThanOrEqual(earliestExpiry - STREAM_LEASE_MARGIN_MS);
    expect(fencedAt[0]).toBeLessThan(earliestExpiry);
    expect(lease.valid).toBe(false);
  });

  it('trusts a renewal from the time it was SENT, not when the reply came: a slow reply shortens the lease', () => {
    const lease = new StreamLease(STREAM_LOCK_DURATION_MS, STREAM_LEASE_MARGIN_MS, 0, clock);
    const fenced = jest.fn();
    lease.watch(fenced);
    advance(700);
    // Sent at 100, confirmed only now (600 ms later): valid until 100 + lockDuration − margin.
    lease.renewed(100);
    expect(lease.trustedUntil).toBe(100 + STREAM_LOCK_DURATION_MS - STREAM_LEASE_MARGIN_MS);
    advance(100 + STREAM_LOCK_DURATION_MS - STREAM_LEASE_MARGIN_MS - 700 - 1);
    expect(fenced).not.toHaveBeenCalled();
    advance(1);
    expect(fenced).toHaveBeenCalledTimes(1);
  });

  it('the first lease runs from the fetch, not from when the job started running', () => {
    now = 5000;
    // Fetched at 4200 (BullMQ's processedOn), running only now.
    const lease = new StreamLease(STREAM_LOCK_DURATION_MS, STREAM_LEASE_MARGIN_MS, 4200, clock);
    expect(lease.trustedUntil).toBe(4200 + STREAM_LOCK_DURATION_MS - STREAM_LEASE_MARGIN_MS);
  });

  it('a timer that fires late (stalled event loop) still fences at once, before anything else runs on the sockets', () => {
    const lease = new StreamLease(STREAM_LOCK_DURATION_MS, STREAM_LEASE_MARGIN_MS, 0, clock);
    const fenced = jest.fn();
    lease.watch(fenced);
    // The clock jumps past the deadline (a 3 s GC pause) before any timer ran.
    now = 3000;
    expect(lease.valid).toBe(false);
    jest.advanceTimersByTime(3000);
    expect(fenced).toHaveBeenCalledTimes(1);
  });

  it('lost() fences at once (BullMQ could not renew: the lock is gone or another worker\'s), also before watch()', () => {
    const lease = new StreamLease(STREAM_LOCK_DURATION_MS, STREAM_LEASE_MARGIN_MS, 0, clock);
    lease.lost();
    const fenced = jest.fn();
    lease.watch(fenced);
    expect(fenced).toHaveBeenCalledTimes(1);
    lease.renewed(0); // a late confirmation does not revive it
    expect(lease.valid).toBe(false);
  });

  it('stop() ends the watch: no callback after the run ended', () => {
    const lease = new StreamLease(STREAM_LOCK_DURATION_MS, STREAM_LEASE_MARGIN_MS, 0, clock);
    const fenced = jest.fn();
    lease.watch(fenced);
    lease.stop();
    advance(10_000);
    expect(fenced).not.toHaveBeenCalled();
  });
});
