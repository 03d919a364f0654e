import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { originOfUpgrade } from '../../../common/auth/console-session';
import { AuthErrorCode, LiveErrorCode } from '../../../common/errors/error-codes';
import { errorMessage } from '../../../common/errors/error-message';
import { LiveAuth } from './live-auth';
import { LiveFanout } from './live-fanout.service';
import { LiveMetrics } from './live-metrics';
import { LiveSettings } from './live-settings';
import { LiveWsConnection } from './live-ws-connection';

/** The live WebSocket's path (the API prefix included: upgrades do not pass through Nest's router). */
export const LIVE_WS_PATH = '/api/v1/live';
/** Clients only send small control messages. */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

/**
 * Accepts live WebSocket connections on the HTTP server's `upgrade` event (ws in
 * noServer mode, no @nestjs/websockets): authenticates before the upgrade — a refused
 * request gets a real HTTP answer and its socket is closed — then hands the socket to
 * a LiveWsConnection. Also pings every connection on the configured interval.
 */
@Injectable()
export class LiveGateway implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(LiveGateway.name);
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: false });
  private readonly connections = new Set<LiveWsConnection>();
  private server?: Server;
  private pingTimer?: NodeJS.Timeout;
  private readonly onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer) => void this.upgrade(req, socket, head);

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly auth: LiveAuth,
    private readonly fanout: LiveFanout,
    private readonly settings: LiveSettings,
    private readonly metrics: LiveMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    this.server.on('upgrade', this.onUpgrade);
    this.pingTimer = setInterval(() => {
      for (const connection of this.connections) connection.ping();
    }, this.settings.config.pingIntervalMs);
  }

  onModuleDestroy(): void {
    this.server?.off('upgrade', this.onUpgrade);
    clearInterval(this.pingTimer);
    this.wss.close();
  }

  private async upgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    // Until ws owns the socket, a reset by the peer must not become an uncaught error.
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: number, code: string, message: string) => {
      // Who was refused and why; never the key or ticket (the query string is left out).
      this.logger.warn(`Live upgrade refused (${status} ${code}) for ${req.socket.remoteAddress ?? 'unknown'} on ${url.pathname}`);
      refuseUpgrade(socket, status, code, message);
    };
    if (url.pathname !== LIVE_WS_PATH) return refuse(404, 'not_found', 'No WebSocket endpoint at this path');
    let principal;
    try {
      principal = await this.auth.authenticate(req, url.searchParams.get('ticket'), originOfUpgrade(req.headers, 'encrypted' in socket && socket.encrypted === true));
    } catch (err) {
      this.logger.warn(`Live authentication failed: ${errorMessage(err)}`);
      return refuse(503, 'service_unavailable', 'Could not check the credentials: try again');
    }
    if (!principal) {
      const ticketOnly = url.searchParams.has('ticket') && !req.headers['x-api-key'] && !req.headers.authorization;
      return ticketOnly
        ? refuse(401, LiveErrorCode.InvalidTicket, 'The ticket is unknown, expired or used')
        : refuse(401, AuthErrorCode.InvalidApiKey, 'Missing or invalid credentials');
    }
    if (socket.destroyed) return;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new LiveWsConnection(ws, socket, principal, this.fanout, this.settings, this.metrics, (c) => this.connections.delete(c));
      if (!connection.client.closed) this.connections.add(connection);
    });
  }
}

/** Answers an upgrade request with a plain HTTP error (the API's error shape) and closes the socket. */
function refuseUpgrade(socket: Socket, status: number, code: string, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ statusCode: status, error: code, message });
  const reason = status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Service Unavailable';
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
