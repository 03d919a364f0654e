import { Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../../../common/errors/error-message';
import { EventWsLease } from './event-ws-lease';

export interface LeaseKeeperHooks {
  /** This process now holds the lease. */
  acquired(): void;
  /** This process no longer holds it (taken over, or unverifiable for too long). */
  lost(reason: string): void;
}

/** How often a standby tries to take the lease when expiry notifications tell it when to: a backstop only. */
export const STANDBY_BACKSTOP_POLL_MS = 5000;

/**
 * The lease loop. The holder renews every TTL/3 and trusts the lease until (send time of
 * its last confirmed renewal) + TTL − TTL/4 on the monotonic clock (Redis starts the TTL
 * when it runs the command, after we sent it): past that it gives the lease up and its
 * socket closes, before the lease can expire and a standby connect (no two sockets).
 *
 * A standby tries to take the lease the moment Redis expires it (`expired()`, fed by
 * KeyExpiryWatcher) and otherwise polls: every TTL/4 (≤ 1 s) while expiry events are
 * off, every STANDBY_BACKSTOP_POLL_MS while they are on.
 */
export class EventWsLeaseKeeper {
  private holdingLease = false;
  private trustedUntil = 0;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private fenceTimer?: NodeJS.Timeout;
  private ticking = false;
  private expiryEvents = false;

  constructor(
    private readonly lease: EventWsLease,
    private readonly ttlMs: number,
    private readonly hooks: LeaseKeeperHooks,
    private readonly logger: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get holding(): boolean {
    return this.holdingLease;
  }

  get holderId(): string {
    return this.lease.holderId;
  }

  get key(): string {
    return this.lease.key;
  }

  private get renewEvery(): number {
    return Math.max(100, Math.floor(this.ttlMs / 3));
  }

  private get marginMs(): number {
    return Math.floor(this.ttlMs / 4);
  }

  private get standbyPoll(): number {
    return this.expiryEvents ? STANDBY_BACKSTOP_POLL_MS : Math.max(100, Math.min(1000, Math.floor(this.ttlMs / 4)));
  }

  start(): void {
    this.schedule(0);
  }

  /** Whether Redis tells us when the lease key expires (then standbys poll only as a backstop). */
  setExpiryEvents(enabled: boolean): void {
    this.expiryEvents = enabled;
  }

  /** The lease key expired (its holder died or let go): a standby tries to take it now. */
  expired(): void {
    if (this.stopped || this.holdingLease) return;
    this.schedule(0);
  }

  /** No more ticks; the lease stays held until releaseIfHeld(). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.clearFence();
  }

  /** Gives the lease back (if held) so a standby process can take it at once. */
  async releaseIfHeld(): Promise<boolean> {
    if (!this.holdingLease) return false;
    this.holdingLease = false;
    this.clearFence();
    await this.lease.release().catch(() => undefined);
    return true;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, delayMs);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.ticking) return; // a tick is in flight (an expiry event came meanwhile); it reschedules
    this.ticking = true;
    try {
      const sentAt = this.now();
      if (this.holdingLease) {
        if (await this.lease.renew()) this.trust(sentAt);
        else this.lose('another process holds the lease now');
      } else if ((await this.lease.tryAcquire()) || (await this.lease.renew())) {
        if (this.stopped) {
          await this.lease.release();
          return;
        }
        this.holdingLease = true;
        this.trust(sentAt);
        this.hooks.acquired();
      }
    } catch (err) {
      // The fence timer gives the lease up once it may have expired; until then, keep it.
      this.logger.warn(`Event WebSocket lease check failed: ${errorMessage(err)}`);
    } finally {
      this.ticking = false;
    }
    if (this.stopped) return;
    this.schedule(this.holdingLease ? this.renewEvery : this.standbyPoll + Math.floor(Math.random() * 200));
  }

  /** A take or renewal sent at `sentAt` was confirmed: trusted until sentAt + TTL − margin. */
  private trust(sentAt: number): void {
    if (!this.holdingLease) return;
    this.trustedUntil = Math.max(this.trustedUntil, sentAt + this.ttlMs - this.marginMs);
    this.clearFence();
    const check = () => {
      this.fenceTimer = undefined;
      if (!this.holdingLease) return;
      const left = this.trustedUntil - this.now();
      if (left > 0) this.fenceTimer = setTimeout(check, Math.ceil(left));
      else this.lose(`no renewal confirmed in time (Redis slow or unreachable); the lease may expire`);
    };
    this.fenceTimer = setTimeout(check, Math.ceil(this.trustedUntil - this.now()));
  }

  private clearFence(): void {
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    this.fenceTimer = undefined;
  }

  private lose(reason: string): void {
    if (!this.holdingLease) return;
    this.holdingLease = false;
    this.trustedUntil = 0;
    this.clearFence();
    this.hooks.lost(reason);
    // A standby again: try again at the next poll (or expiry event).
    this.schedule(this.standbyPoll);
  }
}
