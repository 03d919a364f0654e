import { encodeFrame, FrameFormat, LiveBinaryMedia } from '../live-protocol';
import { NOTHING_WANTED, WantedMedia } from './media-registry';

/** Where a tap's frames go: the process's publisher, which packs them per session and turn. */
export interface FrameSink {
  queueFrame(sessionId: string, media: LiveBinaryMedia, frame: Buffer): void;
}

/**
 * One stream's outlet for live binary media. The stream's hot path asks `wants(media)` for
 * every packet: a field read, so a session nobody watches costs nothing more; only a
 * wanted packet is framed (with its sequence number) and queued.
 */
export class LiveMediaTap {
  private wanted: WantedMedia = NOTHING_WANTED;
  private closed = false;
  /** Next sequence number per media and participant (Zoom user id). */
  private readonly sequences: Record<LiveBinaryMedia, Map<number, number>> = { audio: new Map(), video: new Map(), deskshare: new Map() };

  constructor(
    readonly sessionId: string,
    private readonly sink: FrameSink,
    private readonly onClose: (tap: LiveMediaTap) => void,
  ) {}

  wants(media: LiveBinaryMedia): boolean {
    return this.wanted[media];
  }

  /** What the registry says now (the publisher calls this after each read). */
  setWanted(wanted: WantedMedia): void {
    if (!this.closed) this.wanted = wanted;
  }

  get currentlyWanted(): WantedMedia {
    return this.wanted;
  }

  /** Frames and queues one packet; the caller checked `wants(media)`. */
  publish(media: LiveBinaryMedia, userId: number, timestamp: number, payload: Buffer, format: FrameFormat): void {
    if (this.closed) return;
    const sequences = this.sequences[media];
    const sequence = sequences.get(userId) ?? 0;
    sequences.set(userId, sequence + 1);
    this.sink.queueFrame(this.sessionId, media, encodeFrame({ media, sequence, timestamp, sessionId: this.sessionId, userId, format }, payload));
  }

  /** The stream ended: nothing more is published, and the publisher forgets the tap. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wanted = NOTHING_WANTED;
    this.onClose(this);
  }
}
