import { randomUUID } from 'node:crypto';
import { LiveBinaryMedia, LiveCloseCode, TEXT_MESSAGE_TYPE, toClientText } from '../live-protocol';
import { LiveCloseReason, LiveMetrics } from './live-metrics';
import { LiveTransport } from './live-transport';
import { Subscription } from './subscription';
import { TextSink } from './text-cursor';
import { LogEntry } from './text-log';

/** Who opened the connection: an API key, or a ticket that may restrict the sessions. */
export interface LivePrincipal {
  /** sha256 of the API key, first 16 hex: names the key in logs without revealing it. */
  keyFingerprint: string;
  /** Sessions a ticket was issued for; null = any. */
  sessionIds: ReadonlySet<string> | null;
  /** The key's owner tag: only that owner's sessions, and never `all`. null = every owner's. */
  owner: string | null;
  /**
   * For a credential that can end while the connection is open (the console login): true
   * while it is still valid. Asked every ping interval, without renewing it; throws when it
   * cannot be checked (Redis down), and the connection then stays until the next check.
   */
  stillValid?: () => Promise<boolean>;
}

/** A media_dropped notice goes out at most this often while frames are being dropped. */
export const DROP_NOTICE_INTERVAL_MS = 1000;
/** How often a pacing replay re-checks a full buffer. */
const WRITABLE_POLL_MS = 10;
/** How long a buffer may stay at half the limit or more before the client counts as too slow (callers pass the ping interval). */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
const TOO_SLOW_MESSAGE = 'Too slow: reconnect and resume from the last id received';

interface DropTally {
  frames: number;
  bytes: number;
  byMedia: Partial<Record<LiveBinaryMedia, number>>;
}

/**
 * One live client, whatever its transport: its subscriptions and the backpressure
 * rules. Media that would push the client's buffer past the limit is dropped (counted,
 * and reported at most once a second); text is never dropped: text that would pass the
 * limit cuts the client (TooSlow), which then resumes from the last id it received.
 */
export class LiveClient implements TextSink {
  readonly id = randomUUID();
  readonly subscriptions = new Map<string, Subscription>();
  /** Subscription ids whose subscribe is still being checked (counted against the limit). */
  readonly reservedIds = new Set<string>();
  /** Marks the last frame sent to this client, so two matching subscriptions get it once. */
  frameStamp = 0;
  /** Highest buffered byte count this client ever reached (the limit must hold it; tests check). */
  peakBufferedBytes = 0;
  private closedFlag = false;
  private pendingBytes = 0;
  private drops: DropTally = { frames: 0, bytes: 0, byMedia: {} };
  private lastDropNoticeAt = 0;
  /** The buffer was seen below half the limit since the last checkDrained. */
  private drainedSinceCheck = true;

  constructor(
    readonly transport: LiveTransport,
    readonly principal: LivePrincipal,
    private readonly bufferLimit: number,
    private readonly metrics: LiveMetrics,
    private readonly onClosed: (client: LiveClient) => void,
    /** A pacing replay waits this long at most for the buffer to drain below half the limit (the ping interval). */
    private readonly drainTimeoutMs = DEFAULT_DRAIN_TIMEOUT_MS,
  ) {
    metrics.clientOpened(transport.kind);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  sendControl(message: { type: string } & Record<string, unknown>): void {
    if (this.closedFlag) return;
    const text = JSON.stringify(message);
    const bytes = Buffer.byteLength(text);
    const buffered = this.observe();
    // Control messages are bounded like text: a client that keeps sending requests and never
    // reads their answers would otherwise grow its buffer without limit. Cut it as too slow.
    if (buffered + bytes > this.bufferLimit) {
      this.cutTooSlow();
      return;
    }
    this.transport.sendControl(message.type, text);
    this.notePeak(buffered + bytes);
  }

  sendEntry(subscriptionId: string, item: LogEntry): boolean {
    if (this.closedFlag) return false;
    const message = toClientText(subscriptionId, item.id, item.entry);
    const bytes = Buffer.byteLength(message);
    const buffered = this.observe();
    if (buffered + bytes > this.bufferLimit) {
      this.cutTooSlow();
      return false;
    }
    this.transport.sendEntry(message, item.id, TEXT_MESSAGE_TYPE[item.entry.media]);
    this.notePeak(buffered + bytes);
    const now = Date.now();
    this.metrics.sent(item.entry.media, 1, bytes);
    this.metrics.latency(item.entry.media, item.entry.ts, now);
    return true;
  }

  /** Sends a frame unless the buffer is full (then counts the drop); true when sent. */
  sendFrame(frame: Buffer, media: LiveBinaryMedia, nowMs: number): boolean {
    const buffered = this.observe();
    if (buffered + frame.length > this.bufferLimit) {
      this.drops.frames++;
      this.drops.bytes += frame.length;
      this.drops.byMedia[media] = (this.drops.byMedia[media] ?? 0) + 1;
      this.metrics.dropped(media, 1);
      this.maybeNoticeDrops(nowMs);
      return false;
    }
    this.transport.sendFrame(frame);
    this.notePeak(buffered + frame.length);
    if (this.drops.frames > 0) this.maybeNoticeDrops(nowMs);
    return true;
  }

  /**
   * Whether the buffer is under half the limit; else a promise of when it is (false if
   * the client went away first). A client whose buffer does not get there within the
   * drain timeout is cut as too slow (and false): a peer that stopped reading (a zero
   * window) would otherwise hold a replay, and the live entries it holds, forever.
   */
  whenWritable(): true | Promise<boolean> {
    if (this.closedFlag) return Promise.resolve(false);
    const threshold = this.bufferLimit / 2;
    if (this.observe() < threshold) return true;
    const deadline = Date.now() + this.drainTimeoutMs;
    return new Promise((resolve) => {
      const check = () => {
        if (this.closedFlag) resolve(false);
        else if (this.observe() < threshold) resolve(true);
        else if (Date.now() >= deadline) {
          this.cutTooSlow();
          resolve(false);
        } else setTimeout(check, WRITABLE_POLL_MS);
      };
      setTimeout(check, WRITABLE_POLL_MS);
    });
  }

  /**
   * Called every ping interval (SSE clients, which have no ping of their own): a client
   * whose buffer is at half the limit or more, and was never seen below it since the
   * previous call — it did not drain within a whole interval —, is cut as too slow. The
   * buffer grows only by what is sent, and every send looks at it first, so nothing that
   * drained goes unseen. True when it was cut.
   */
  checkDrained(): boolean {
    if (this.closedFlag) return false;
    const drained = this.drainedSinceCheck;
    this.drainedSinceCheck = false;
    if (this.transport.bufferedBytes() < this.bufferLimit / 2 || drained) return false;
    this.cutTooSlow();
    return true;
  }

  reservePending(bytes: number): boolean {
    if (this.pendingBytes + bytes > this.bufferLimit) return false;
    this.pendingBytes += bytes;
    return true;
  }

  releasePending(bytes: number): void {
    this.pendingBytes = Math.max(0, this.pendingBytes - bytes);
  }

  /** Closes the connection (the server's decision) and frees this client's state at once. */
  close(code: number, reason: LiveCloseReason, message: string): void {
    if (this.closedFlag) return;
    this.transport.close(code, message);
    this.ended(reason);
  }

  /** The connection is gone (the peer closed it, or the socket failed). */
  ended(reason: LiveCloseReason): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.metrics.clientClosed(this.transport.kind, reason);
    this.onClosed(this);
  }

  /** The bytes buffered now, noting whether the buffer is below half the limit (checkDrained). */
  private observe(): number {
    const buffered = this.transport.bufferedBytes();
    if (buffered < this.bufferLimit / 2) this.drainedSinceCheck = true;
    return buffered;
  }

  private cutTooSlow(): void {
    this.close(LiveCloseCode.TooSlow, 'too_slow', TOO_SLOW_MESSAGE);
  }

  private maybeNoticeDrops(nowMs: number): void {
    if (nowMs - this.lastDropNoticeAt < DROP_NOTICE_INTERVAL_MS) return;
    const notice = JSON.stringify({ type: 'media_dropped', frames: this.drops.frames, bytes: this.drops.bytes, by_media: this.drops.byMedia });
    // The notice itself must fit; otherwise it waits for the next frame.
    if (this.transport.bufferedBytes() + notice.length > this.bufferLimit) return;
    this.transport.sendControl('media_dropped', notice);
    this.lastDropNoticeAt = nowMs;
    this.drops = { frames: 0, bytes: 0, byMedia: {} };
  }

  private notePeak(bytes: number): void {
    if (bytes > this.peakBufferedBytes) this.peakBufferedBytes = bytes;
  }
}
