import { Logger } from '@nestjs/common';
import type { EventWsLease } from './event-ws-lease';
import { EventWsLeaseKeeper, STANDBY_BACKSTOP_POLL_MS } from './event-ws-lease-keeper';

const TTL = 2000;

/** A lease whose Redis answers are scripted: `hang` makes every call wait forever (Redis stalled). */
class ScriptedLease {
  readonly holderId = 'me';
  readonly key = 'p:zoom-event-ws:lease:sub';
  holder: string | null = null;
  hang = false;
  calls: string[] = [];
  private answer<T>(name: string, v: () => T): Promise<T> {
    this.calls.push(name);
    return this.hang ? new Promise<T>(() => undefined) : Promise.resolve(v());
  }
  tryAcquire() {
    return this.answer('tryAcquire', () => (this.holder === null ? ((this.holder = 'me'), true) : false));
  }
  renew() {
    return this.answer('renew', () => this.holder === 'me');
  }
  release() {
    return this.answer('release', () => void (this.holder === 'me' && (this.holder = null)));
  }
}

describe('EventWsLeaseKeeper', () => {
  let now = 0;
  beforeEach(() => {
    jest.useFakeTimers();
    now = 0;
  });
  afterEach(() => jest.useRealTimers());
  /** Fake clock and timers together, 1 ms at a time, letting promise callbacks run. */
  const advance = async (ms: number) => {
    for (let i = 0; i < ms; i++) {
      now += 1;
      await jest.advanceTimersByTimeAsync(1);
    }
  };
  const keeperOf = (lease: ScriptedLease) => {
    const events: Array<{ at: number; what: string }> = [];
    const keeper = new EventWsLeaseKeeper(
      lease as unknown as EventWsLease,
      TTL,
      { acquired: () => events.push({ at: now, what: 'acquired' }), lost: (r) => events.push({ at: now, what: `lost: ${r}` }) },
      new Logger('test'),
      () => now,
    );
    return { keeper, events };
  };

  it('a holder whose renewals get no answer (Redis stalled) gives the lease up before it can expire', async () => {
    const lease = new ScriptedLease();
    const { keeper, events } = keeperOf(lease);
    keeper.start();
    await advance(1);
    expect(events.map((e) => e.what)).toEqual(['acquired']);
    await advance(2000); // renewals every TTL/3, answered
    const renewsSent = lease.calls.filter((c) => c === 'renew').length;
    expect(renewsSent).toBeGreaterThanOrEqual(2);
    // The last renewal that was confirmed was sent at some t ≤ now; Redis stalls from here.
    const lastConfirmedSentBy = now;
    lease.hang = true;
    await advance(3000);
    const lost = events.find((e) => e.what.startsWith('lost'));
    expect(lost).toBeDefined();
    // The lease set by that renewal cannot expire before its send + TTL.
    expect(lost!.at).toBeLessThan(lastConfirmedSentBy + TTL);
    expect(keeper.holding).toBe(false);
    keeper.stop();
  });

  it('a standby told that the lease key expired takes it at once, not at its next poll', async () => {
    const lease = new ScriptedLease();
    lease.holder = 'someone-else';
    const { keeper, events } = keeperOf(lease);
    keeper.setExpiryEvents(true);
    keeper.start();
    await advance(5);
    expect(keeper.holding).toBe(false);
    // The holder died: Redis expires the key and tells us.
    lease.holder = null;
    const expiredAt = now;
    keeper.expired();
    await advance(5);
    expect(events).toEqual([{ at: expect.any(Number), what: 'acquired' }]);
    expect(events[0].at - expiredAt).toBeLessThan(10);
    keeper.stop();
  });

  it('with expiry events on, a standby polls only as a backstop; without, every ≤ 1 s', async () => {
    for (const [eventsOn, maxPolls] of [
      [true, 1],
      [false, 11],
    ] as const) {
      const lease = new ScriptedLease();
      lease.holder = 'someone-else';
      const { keeper } = keeperOf(lease);
      keeper.setExpiryEvents(eventsOn);
      keeper.start();
      await advance(Math.min(STANDBY_BACKSTOP_POLL_MS - 300, 4500));
      const polls = lease.calls.filter((c) => c === 'tryAcquire').length;
      expect(polls).toBeLessThanOrEqual(maxPolls);
      expect(polls).toBeGreaterThanOrEqual(1);
      if (!eventsOn) expect(polls).toBeGreaterThanOrEqual(4);
      keeper.stop();
    }
  });
});
