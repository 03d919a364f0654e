import { Logger } from '@nestjs/common';
import type { Socket } from 'node:net';
import { RawData, WebSocket } from 'ws';
import { LiveProtocolErrorCode } from '../../../common/errors/error-codes';
import { LiveCloseCode } from '../live-protocol';
import { parseClientRequest } from './client-request';
import { LiveClient, LivePrincipal } from './live-client';
import { LiveFanout } from './live-fanout.service';
import { LiveMetrics } from './live-metrics';
import { LiveSettings } from './live-settings';
import { WsTransport } from './ws-transport';

/** Invalid messages in a row after which the client is cut (ProtocolError). */
export const MAX_BAD_MESSAGES_IN_A_ROW = 5;
/**
 * Requests a connection may have waiting (queued or being handled) before it is cut
 * (ProtocolError); at least twice the subscription limit, so a client that drops and
 * re-makes every subscription at once is never cut.
 */
export const MIN_PENDING_REQUESTS_LIMIT = 64;

/**
 * One WebSocket client's protocol: the welcome, its subscribe/unsubscribe requests
 * (handled one at a time, in order), keep-alive pings, and cutting clients that send
 * binary or keep sending garbage. Delivery and backpressure are LiveClient's.
 */
export class LiveWsConnection {
  private static readonly logger = new Logger('LiveWsConnection');
  readonly client: LiveClient;
  private answeredPing = true;
  private badInARow = 0;
  private requests: Promise<unknown> = Promise.resolve();
  private pendingRequests = 0;
  private readonly maxPendingRequests: number;

  constructor(
    private readonly ws: WebSocket,
    socket: Socket,
    principal: LivePrincipal,
    private readonly fanout: LiveFanout,
    settings: LiveSettings,
    metrics: LiveMetrics,
    private readonly onGone: (connection: LiveWsConnection) => void,
  ) {
    this.maxPendingRequests = Math.max(MIN_PENDING_REQUESTS_LIMIT, 2 * settings.config.maxSubscriptionsPerClient);
    this.client = new LiveClient(
      new WsTransport(ws, socket),
      principal,
      settings.config.clientBufferBytes,
      metrics,
      (c) => {
        fanout.remove(c);
        onGone(this);
      },
      settings.config.pingIntervalMs,
    );
    fanout.add(this.client);
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('pong', () => (this.answeredPing = true));
    ws.on('close', () => this.client.ended('client'));
    ws.on('error', (err) => {
      LiveWsConnection.logger.debug(`Live client ${this.client.id} socket error: ${err.message}`);
      this.client.ended('error');
    });
    this.client.sendControl({ type: 'welcome', connection_id: this.client.id, resume_window_sec: settings.config.resumeWindowSec, max_buffer_bytes: settings.config.clientBufferBytes });
    LiveWsConnection.logger.debug(`Live client ${this.client.id} connected (key ${principal.keyFingerprint})`);
  }

  /** Called every ping interval: a client that did not answer the previous ping is cut. */
  ping(): void {
    if (this.client.closed) return;
    if (!this.answeredPing) {
      this.client.close(LiveCloseCode.PingTimeout, 'ping_timeout', 'No answer to ping');
      this.ws.terminate();
      return;
    }
    this.answeredPing = false;
    this.ws.ping();
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.client.closed) return;
    if (isBinary) {
      this.client.close(LiveCloseCode.ProtocolError, 'protocol_error', 'Binary messages are not accepted');
      return;
    }
    const request = parseClientRequest(rawText(data));
    if ('error' in request) {
      LiveWsConnection.logger.warn(`Live client ${this.client.id}: refused a request (${request.error})`);
      this.client.sendControl({ type: 'error', code: LiveProtocolErrorCode.BadRequest, message: request.error, ...(request.id ? { id: request.id } : {}) });
      if (++this.badInARow >= MAX_BAD_MESSAGES_IN_A_ROW) this.client.close(LiveCloseCode.ProtocolError, 'protocol_error', 'Too many invalid messages');
      return;
    }
    this.badInARow = 0;
    // Requests run one at a time; while one waits (Postgres, Redis) the others queue here.
    // Without a cap, a client sending requests in a loop would grow this queue without bound.
    if (this.pendingRequests >= this.maxPendingRequests) {
      this.client.close(LiveCloseCode.ProtocolError, 'protocol_error', `More than ${this.maxPendingRequests} requests awaiting an answer`);
      return;
    }
    this.pendingRequests++;
    this.requests = this.requests
      .then(() => {
        if (this.client.closed) return;
        if (request.type === 'subscribe') return this.fanout.subscribe(this.client, request.spec);
        this.fanout.unsubscribe(this.client, request.id);
      })
      .finally(() => this.pendingRequests--);
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
