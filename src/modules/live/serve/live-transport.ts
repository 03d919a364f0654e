import { LiveTransportKind } from './live-metrics';

/**
 * How a live client's messages leave the process: the WebSocket (text and binary) or
 * SSE (text only). LiveClient holds the protocol and backpressure rules; a transport
 * only writes and reports what it has not yet handed to the kernel.
 */
export interface LiveTransport {
  readonly kind: LiveTransportKind;
  /** Bytes accepted for this client and not yet written to its socket. */
  bufferedBytes(): number;
  /** A text entry of a subscription (SSE uses the id and event name as its fields). */
  sendEntry(message: string, entryId: string, event: string): void;
  /** A control message (`welcome`, `subscribed`, `error`, `resume_gap`, `media_dropped`…). */
  sendControl(type: string, message: string): void;
  /** A binary media frame; only transports that carry binary are given any. */
  sendFrame(frame: Buffer): void;
  /** Coalesces the writes of one pub/sub message into one syscall (until uncork). */
  cork(): void;
  uncork(): void;
  /** Ends the connection with a close code and reason (SSE: just ends the response). */
  close(code: number, reason: string): void;
  /** Cuts the connection now (a client that did not answer a close in time). */
  terminate(): void;
}
