import { Logger } from '@nestjs/common';
import WebSocket, { type RawData } from 'ws';
import { MAX_WIRE_FRAME_BYTES } from './event-ws-frames';

const HANDSHAKE_TIMEOUT_MS = 10_000;
const CLOSE_GRACE_MS = 2_000;

export interface EventWsConnectionHooks {
  opened(): void;
  message(data: RawData, isBinary: boolean): void;
  heartbeatSent(): void;
  /** The last heartbeat was not answered within one interval. */
  heartbeatLate(): void;
  /** Zoom refused the handshake with 401: the token is no good. */
  unauthorized(): void;
  /** `code` is the close code, or `http_<status>` when the handshake was refused. */
  closed(close: { code: string; why: string; opened: boolean }): void;
}

/**
 * One event WebSocket: opened on construction, kept alive with `{"module":"heartbeat"}`
 * every heartbeat interval, terminated when nothing arrives for the idle timeout.
 * Reconnecting is the owner's call (a connection is never reused).
 */
export class EventWsConnection {
  private readonly ws: WebSocket;
  private heartbeatTimer?: NodeJS.Timeout;
  private awaitingAck = false;
  private late = false;
  private lastInboundAt = 0;
  private lastError = '';

  constructor(
    url: string,
    private readonly timing: { heartbeatMs: number; idleTimeoutMs: number },
    private readonly hooks: EventWsConnectionHooks,
    private readonly logger: Logger,
  ) {
    const ws = new WebSocket(url, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS, maxPayload: MAX_WIRE_FRAME_BYTES, perMessageDeflate: false });
    this.ws = ws;
    let opened = false;
    ws.on('open', () => {
      opened = true;
      this.lastInboundAt = Date.now();
      this.hooks.opened();
      this.startHeartbeats();
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      this.lastInboundAt = Date.now();
      this.hooks.message(data, isBinary);
    });
    ws.on('error', (err: Error) => {
      // ws reports a refused handshake as "Unexpected server response: 401".
      this.lastError = err.message.slice(0, 200);
      if (handshakeStatus(err.message) === '401') this.hooks.unauthorized();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.stopHeartbeats();
      const status = handshakeStatus(this.lastError);
      const label = !opened && status ? `http_${status}` : String(code);
      const why = [reason.toString('utf8').slice(0, 120), this.lastError].filter((s) => s.length > 0).join('; ');
      this.hooks.closed({ code: label, why, opened });
    });
  }

  /** Our heartbeat was answered. True when it had been late (and now no longer is). */
  heartbeatAnswered(): boolean {
    this.awaitingAck = false;
    const wasLate = this.late;
    this.late = false;
    return wasLate;
  }

  /** Closes (terminates after a grace period, or at once while still connecting). */
  async close(code: number, reason: string): Promise<void> {
    const ws = this.ws;
    this.stopHeartbeats();
    if (ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, CLOSE_GRACE_MS);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(code, reason);
    });
  }

  private startHeartbeats(): void {
    const ws = this.ws;
    this.stopHeartbeats();
    this.heartbeatTimer = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const idleFor = Date.now() - this.lastInboundAt;
      if (idleFor > this.timing.idleTimeoutMs) {
        this.logger.warn(`Event WebSocket silent for ${idleFor} ms (no heartbeat answers); reconnecting`);
        this.lastError = 'idle timeout';
        ws.terminate();
        return;
      }
      if (this.awaitingAck && !this.late) {
        this.late = true;
        this.hooks.heartbeatLate();
      }
      ws.send(JSON.stringify({ module: 'heartbeat' }), (err) => {
        if (err) this.logger.warn(`Event WebSocket heartbeat send failed: ${err.message}`);
      });
      this.awaitingAck = true;
      this.hooks.heartbeatSent();
    }, this.timing.heartbeatMs);
  }

  private stopHeartbeats(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }
}

function handshakeStatus(message: string): string | undefined {
  return /Unexpected server response: (\d{3})/.exec(message)?.[1];
}
