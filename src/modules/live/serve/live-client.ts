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
}

/** A media_dropped notice goes out at most this often while frames are being dropped. */
export const DROP_NOTICE_INTERVAL_MS = 1000;
/** How often a pacing replay re-checks a full buffer. */
const WRITABLE_POLL_MS = 10;

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

  constructor(
    readonly transport: LiveTransport,
    readonly principal: LivePrincipal,
    private readonly bufferLimit: number,
    private readonly metrics: LiveMetrics,
    private readonly onClosed: (client: LiveClient) => void,
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
    const buffered = this.transport.bufferedBytes();
    // Control messages are bounded like text: a client that keeps sending requests and never
    // reads their answers would otherwise grow its buffer without limit. Cut it as too slow.
    if (buffered + bytes > this.bufferLimit) {
      this.close(LiveCloseCode.TooSlow, 'too_slow', `Too slow: reconnect and resume from the last id received`);
      return;
    }
    this.transport.sendControl(message.type, text);
    this.notePeak(buffered + bytes);
  }

  sendEntry(subscriptionId: string, item: LogEntry): boolean {
    if (this.closedFlag) return false;
    const message = toClientText(subscriptionId, item.id, item.entry);
    const bytes = Buffer.byteLength(message);
    const buffered = this.transport.bufferedBytes();
    if (buffered + bytes > this.bufferLimit) {
      this.close(LiveCloseCode.TooSlow, 'too_slow', `Too slow: reconnect and resume from the last id received`);
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
    const buffered = this.transport.bufferedBytes();
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

  /** Whether the buffer is under half the limit; else a promise of when it is (false if the client went away first). */
  whenWritable(): true | Promise<boolean> {
    if (this.closedFlag) return Promise.resolve(false);
    const threshold = this.bufferLimit / 2;
    if (this.transport.bufferedBytes() < threshold) return true;
    return new Promise((resolve) => {
      const check = () => {
        if (this.closedFlag) resolve(false);
        else if (this.transport.bufferedBytes() < threshold) resolve(true);
        else setTimeout(check, WRITABLE_POLL_MS);
      };
      setTimeout(check, WRITABLE_POLL_MS);
    });
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
