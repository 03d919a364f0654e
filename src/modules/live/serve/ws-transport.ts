import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { LiveTransport } from './live-transport';

/** ws.send options of a media frame, built once: binary, never compressed. */
const BINARY = { binary: true, compress: false } as const;
const TEXT = { binary: false, compress: false } as const;
/** A close reason must fit a control frame (123 bytes). */
const MAX_REASON_CHARS = 120;

/** A live client's WebSocket. */
export class WsTransport implements LiveTransport {
  readonly kind = 'ws' as const;

  constructor(
    private readonly ws: WebSocket,
    /** The upgraded TCP socket, corked around a pub/sub message's frames. */
    private readonly socket: Socket,
  ) {}

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  sendEntry(message: string): void {
    this.ws.send(message, TEXT);
  }

  sendControl(_type: string, message: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(message, TEXT);
  }

  sendFrame(frame: Buffer): void {
    this.ws.send(frame, BINARY);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  close(code: number, reason: string): void {
    // ws cuts the socket itself if the close handshake does not finish (closeTimeout).
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason.slice(0, MAX_REASON_CHARS));
  }

  terminate(): void {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}
