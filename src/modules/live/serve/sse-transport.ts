import type { Response } from 'express';
import { LiveCloseCode } from '../live-protocol';
import { LiveTransport } from './live-transport';

/** Proxies and browsers drop a silent stream; a comment line this often keeps it open. */
export const SSE_HEARTBEAT_MS = 15_000;
/**
 * An ended stream whose last bytes have not reached the peer after this long is cut
 * (its socket destroyed): the peer stopped reading, and what is buffered for it would
 * otherwise stay as long as the socket does. Text is resumable, so nothing is lost.
 */
export const SSE_CLOSE_GRACE_MS = 1000;

/** A live client's Server-Sent Events response (text only). */
export class SseTransport implements LiveTransport {
  readonly kind = 'sse' as const;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly res: Response) {
    this.heartbeat = setInterval(() => res.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
    res.on('close', () => clearInterval(this.heartbeat));
  }

  bufferedBytes(): number {
    return this.res.writableLength;
  }

  sendEntry(message: string, entryId: string, event: string): void {
    this.res.write(`id: ${entryId}\nevent: ${event}\ndata: ${message}\n\n`);
  }

  sendControl(type: string, message: string): void {
    if (!this.res.writableEnded) this.res.write(`event: ${type}\ndata: ${message}\n\n`);
  }

  sendFrame(): void {
    // SSE carries text only; binary media are refused when the stream is opened.
  }

  cork(): void {}

  uncork(): void {}

  /**
   * Ends the response; one that cannot finish (a too slow client's, whose buffer is full,
   * or a peer that stopped reading) has its socket destroyed: at once for a too slow
   * client, else after SSE_CLOSE_GRACE_MS.
   */
  close(code: number): void {
    clearInterval(this.heartbeat);
    if (!this.res.writableEnded) this.res.end();
    if (this.res.writableFinished || this.res.destroyed) return;
    if (code === LiveCloseCode.TooSlow) {
      this.res.destroy();
      return;
    }
    const cut = setTimeout(() => this.res.destroy(), SSE_CLOSE_GRACE_MS);
    cut.unref();
    const clear = () => clearTimeout(cut);
    this.res.once('finish', clear);
    this.res.once('close', clear);
  }

  terminate(): void {
    clearInterval(this.heartbeat);
    this.res.destroy();
  }
}
