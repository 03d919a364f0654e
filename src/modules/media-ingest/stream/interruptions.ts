/** Why a running stream must stop, hand over, or reconnect. */
export type ReconnectCause = 'failover' | 'signaling_interrupted' | 'media_interrupted' | 'socket_closed' | 'keepalive_timeout' | 'media_keepalive_timeout';

export type Interruption =
  | { kind: 'abort'; reason: 'shutdown' | 'lease_lost' }
  | { kind: 'stop'; stopReason: number | null; via: 'webhook' | 'stream_state' | 'close_request' }
  | { kind: 'full'; cause: ReconnectCause; detail: string; serverUrls?: string }
  | { kind: 'media'; cause: ReconnectCause; detail: string };

const RANK: Record<Interruption['kind'], number> = { abort: 4, stop: 3, full: 2, media: 1 };

/**
 * A one-slot mailbox of interruptions: the most severe pending one wins (abort > stop >
 * full reconnect > media reconnect); the stream loop waits on it.
 */
export class Interruptions {
  private pending: Interruption | null = null;
  private waiter: ((i: Interruption) => void) | null = null;

  push(i: Interruption): void {
    if (this.pending && RANK[this.pending.kind] > RANK[i.kind]) return;
    // A failover's new URLs are kept even when a full reconnect is already pending.
    if (this.pending?.kind === 'full' && i.kind === 'full' && !i.serverUrls && this.pending.serverUrls) return;
    if (this.pending && RANK[this.pending.kind] >= 3 && RANK[this.pending.kind] === RANK[i.kind]) return;
    this.pending = i;
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      this.pending = null;
      w(i);
    }
  }

  /** The pending terminal interruption (abort/stop), without taking it. */
  terminal(): Interruption | null {
    return this.pending && RANK[this.pending.kind] >= 3 ? this.pending : null;
  }

  take(): Interruption | null {
    const p = this.pending;
    this.pending = null;
    return p;
  }

  next(): Promise<Interruption> {
    const p = this.take();
    if (p) return Promise.resolve(p);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** Waits up to `ms`, returning early (with it) if an interruption arrives. */
  async sleep(ms: number): Promise<Interruption | null> {
    const p = this.take();
    if (p) return p;
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.next(),
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), ms);
      }),
    ]);
    clearTimeout(timer);
    if (result === null) this.waiter = null;
    return result;
  }
}
