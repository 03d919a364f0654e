import type { Response } from 'express';
import { LiveTransport } from './live-transport';

/** Proxies and browsers drop a silent stream; a comment line this often keeps it open. */
export const SSE_HEARTBEAT_MS = 15_000;

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

  close(): void {
    clearInterval(this.heartbeat);
    if (!this.res.writableEnded) this.res.end();
  }

  terminate(): void {
    clearInterval(this.heartbeat);
    this.res.destroy();
  }
}
