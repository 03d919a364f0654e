import { Logger } from '@nestjs/common';
import WebSocket, { RawData } from 'ws';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { FastMediaFrame, parseMediaFrameFast } from '../protocol/media-frame-fast-path';
import { parseRtmsFrame, ParseFailure, RtmsMessage } from '../protocol/rtms-message-parser';
import { RtmsConnectionError, RtmsStatusError } from '../protocol/rtms-status';
import { KeepAliveObserver, KeepAliveResponder } from './keep-alive-responder';

export interface RtmsSocketHandlers {
  /** Every message except keep-alive requests (answered here). */
  onMessage(message: RtmsMessage, bytes: number, receivedAt: number): void;
  /**
   * Media sockets: an audio, video or share message the fast path read (every other
   * message still comes through onMessage).
   */
  onFastMedia?(frame: FastMediaFrame, bytes: number, receivedAt: number): void;
  onInvalid(reason: ParseFailure, bytes: number): void;
  /** The socket closed (not by us). */
  onClose(code: number, reason: string): void;
}

export interface RtmsSocketOptions {
  kind: 'signaling' | 'media';
  /** For logs and records: `signaling`, `all`, `audio`, … */
  label: string;
  url: string;
  handshakeTimeoutMs: number;
  maxMessageBytes: number;
  keepAlive: KeepAliveObserver;
}

/**
 * One RTMS WebSocket (signaling or media): opens it, performs a request/response
 * handshake, answers keep-alives, parses text and binary JSON frames, and reports a
 * close it did not ask for exactly once.
 */
export class RtmsSocket {
  private readonly logger = new Logger(RtmsSocket.name);
  private ws: WebSocket | null = null;
  private handlers: RtmsSocketHandlers | null = null;
  private closedByUs = false;
  private closeReported = false;
  /** A message over maxMessageBytes closed the socket. */
  private oversized = false;
  readonly keepAlive: KeepAliveResponder;
  lastMessageAt = 0;

  constructor(private readonly opts: RtmsSocketOptions) {
    this.keepAlive = new KeepAliveResponder(opts.kind, (m) => this.send(m), opts.keepAlive);
  }

  get label(): string {
    return this.opts.label;
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /**
   * Opens the socket, sends `request` and resolves with the response of
   * `responseType` when its status_code is 0; rejects with RtmsStatusError otherwise,
   * or RtmsConnectionError on close / timeout. Other messages before the response
   * (keep-alives) are handled normally.
   */
  handshake(request: Record<string, unknown>, responseType: RtmsMessageType, handlers: RtmsSocketHandlers): Promise<RtmsMessage> {
    this.handlers = handlers;
    return new Promise<RtmsMessage>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, msg?: RtmsMessage) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          this.close(1000, 'handshake failed');
          reject(err);
        } else resolve(msg!);
      };
      const timer = setTimeout(() => finish(new RtmsConnectionError(this.opts.kind, `no handshake response within ${this.opts.handshakeTimeoutMs} ms`)), this.opts.handshakeTimeoutMs);
      // The real limit: a larger message is refused while its header arrives, never
      // buffered; ws closes the socket with 1009 and the owner reconnects (counted there).
      const ws = new WebSocket(this.opts.url, { handshakeTimeout: this.opts.handshakeTimeoutMs, maxPayload: this.opts.maxMessageBytes, perMessageDeflate: false });
      this.ws = ws;
      ws.on('open', () => this.send(request));
      ws.on('error', (err) => {
        // ws sends the 1009 close frame but stops reading, so its own close event says 1006.
        if ((err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.oversized = true;
        if (!settled) finish(new RtmsConnectionError(this.opts.kind, err.message));
        else this.logger.debug(`${this.opts.label} socket error: ${err.message}`);
      });
      ws.on('close', (rawCode, reasonBuf) => {
        const code = this.oversized ? 1009 : rawCode;
        const reason = this.oversized ? 'message too big' : reasonBuf.toString('utf8');
        if (!settled) return finish(new RtmsConnectionError(this.opts.kind, `closed during handshake (${code}${reason ? ` ${reason}` : ''})`));
        if (this.closedByUs || this.closeReported) return;
        this.closeReported = true;
        this.handlers?.onClose(code, reason);
      });
      ws.on('message', (data: RawData) => {
        const receivedAt = Date.now();
        this.lastMessageAt = receivedAt;
        const onFastMedia = this.handlers?.onFastMedia;
        if (onFastMedia && Buffer.isBuffer(data) && data.length <= this.opts.maxMessageBytes) {
          const media = parseMediaFrameFast(data, receivedAt);
          if (media) return onFastMedia(media, data.length, receivedAt);
        }
        const parsed = parseRtmsFrame(data, this.opts.maxMessageBytes);
        if (!parsed.ok) {
          this.handlers?.onInvalid(parsed.reason, parsed.bytes);
          return;
        }
        const msg = parsed.message;
        if (this.keepAlive.handle(msg, receivedAt)) return;
        if (!settled && msg.msg_type === responseType) {
          const status = typeof msg.status_code === 'number' ? msg.status_code : 0;
          // The response type goes along: some codes mean different things in msg 2 and msg 4
          // (the older numbering, rtms-protocol.md §2; see classifyStatus).
          if (status !== 0) return finish(new RtmsStatusError(this.opts.kind, status, typeof msg.reason === 'string' ? msg.reason : '', responseType));
          return finish(null, msg);
        }
        this.handlers?.onMessage(msg, parsed.bytes, receivedAt);
      });
    });
  }

  send(message: Record<string, unknown>): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * Closes without reporting a close (we asked for it). Resolves once the socket is closed:
   * until the peer answers our close frame, what it sent before still arrives and is
   * handled (at most 2 s: then the socket is cut).
   */
  close(code = 1000, reason = 'client closing'): Promise<void> {
    this.closedByUs = true;
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    // A peer that never answers the close frame must not keep the socket (or the test) alive.
    const t = setTimeout(() => ws.terminate(), 2000);
    t.unref();
    ws.once('close', () => clearTimeout(t));
    return closed;
  }
}
