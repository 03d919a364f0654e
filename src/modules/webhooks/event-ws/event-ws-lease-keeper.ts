import { Logger } from '@nestjs/common';
import { errorMessage } from '../../../common/errors/error-message';
import { EventWsLease } from './event-ws-lease';

export interface LeaseKeeperHooks {
  /** This process now holds the lease. */
  acquired(): void;
  /** This process no longer holds it (taken over, or unverifiable for too long). */
  lost(reason: string): void;
}

/**
 * The lease loop: a standby process polls to take the lease; the holder renews it every
 * TTL/3. When Redis cannot be asked, the holder keeps the lease only while it cannot yet
 * have expired, then gives it up rather than risk two sockets.
 */
export class EventWsLeaseKeeper {
  private holdingLease = false;
  private lastRenewAt = 0;
  private stopped = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly lease: EventWsLease,
    private readonly ttlMs: number,
    private readonly hooks: LeaseKeeperHooks,
    private readonly logger: Logger,
  ) {}

  get holding(): boolean {
    return this.holdingLease;
  }

  get holderId(): string {
    return this.lease.holderId;
  }

  start(): void {
    this.schedule(0);
  }

  /** No more ticks; the lease stays held until releaseIfHeld(). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Gives the lease back (if held) so a standby process can take it at once. */
  async releaseIfHeld(): Promise<boolean> {
    if (!this.holdingLease) return false;
    this.holdingLease = false;
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
    const renewEvery = Math.max(100, Math.floor(this.ttlMs / 3));
    const standbyPoll = Math.max(100, Math.min(1000, Math.floor(this.ttlMs / 4)));
    try {
      if (this.holdingLease) {
        if (await this.lease.renew()) {
          this.lastRenewAt = Date.now();
        } else {
          this.lose('another process holds the lease now');
        }
      } else if ((await this.lease.tryAcquire()) || (await this.lease.renew())) {
        if (this.stopped) {
          await this.lease.release();
          return;
        }
        this.holdingLease = true;
        this.lastRenewAt = Date.now();
        this.hooks.acquired();
      }
    } catch (err) {
      const msg = errorMessage(err);
      // Cannot tell whether we still hold it: once it may have expired, stop using it.
      if (this.holdingLease && Date.now() - this.lastRenewAt > this.ttlMs - renewEvery) this.lose(`Redis unavailable (${msg})`);
      else this.logger.warn(`Event WebSocket lease check failed: ${msg}`);
    }
    if (this.stopped) return;
    this.schedule(this.holdingLease ? renewEvery : standbyPoll + Math.floor(Math.random() * 200));
  }

  private lose(reason: string): void {
    this.holdingLease = false;
    this.hooks.lost(reason);
  }
}
