/** Zoom's event WebSocket (`/ws?subscriptionId=…&access_token=…`, rtms-protocol.md §5). */
import type { IncomingMessage } from 'http';
import type { Duplex } from 'stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { isRecord } from './http-util';
import type { OAuthServer } from './oauth';
import type { EventWsDelivery } from './types';

export interface EventWsStats {
  connectionsAccepted: number;
  connectionsRejected: Array<{ at: number; status: number; reason: string }>;
  heartbeats: number;
  live: number;
  maxLive: number;
  closes: Array<{ at: number; code: number; by: 'server' | 'client' }>;
}

export class EventWsServer {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly clients = new Map<WebSocket, { lastHeartbeat: number; timer?: NodeJS.Timeout; serverClosed: boolean }>();
  private readonly pending: Array<{ event: string; content: string }> = [];
  readonly deliveries: EventWsDelivery[] = [];
  readonly stats: EventWsStats = { connectionsAccepted: 0, connectionsRejected: [], heartbeats: 0, live: 0, maxLive: 0, closes: [] };
  private closed = false;

  constructor(
    private readonly oauth: OAuthServer,
    private readonly cfg: { subscriptionId: string; redeliver: boolean; heartbeatTimeoutMs: number },
  ) {}

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const reject = (status: number, reason: string) => {
      this.stats.connectionsRejected.push({ at: Date.now(), status, reason });
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ code: status, message: reason })}`);
    };
    if (this.closed) return reject(503, 'Service Unavailable');
    const token = url.searchParams.get('access_token') ?? undefined;
    const check = this.oauth.check(token);
    if (!check.ok) return reject(401, 'Unauthorized');
    if (check.info.kind === 'user') return reject(403, 'Forbidden');
    if (url.searchParams.get('subscriptionId') !== this.cfg.subscriptionId) return reject(404, 'Subscription Not Found');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(ws: WebSocket): void {
    const state: { lastHeartbeat: number; timer?: NodeJS.Timeout; serverClosed: boolean } = { lastHeartbeat: Date.now(), serverClosed: false };
    this.clients.set(ws, state);
    this.stats.connectionsAccepted++;
    this.updateLive();
    if (this.cfg.heartbeatTimeoutMs > 0) {
      state.timer = setInterval(() => {
        if (Date.now() - state.lastHeartbeat > this.cfg.heartbeatTimeoutMs) this.closeClient(ws, 1000, 'heartbeat timeout');
      }, Math.max(10, Math.floor(this.cfg.heartbeatTimeoutMs / 4)));
    }
    ws.on('message', (data: RawData) => {
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
      let msg: unknown;
      try {
        msg = JSON.parse(text);
      } catch {
        return;
      }
      if (isRecord(msg) && msg.module === 'heartbeat') {
        state.lastHeartbeat = Date.now();
        this.stats.heartbeats++;
        ws.send(JSON.stringify({ module: 'heartbeat', success: true }));
      }
    });
    ws.on('error', () => undefined);
    ws.on('close', (code: number) => {
      if (state.timer) clearInterval(state.timer);
      this.clients.delete(ws);
      this.stats.closes.push({ at: Date.now(), code, by: state.serverClosed ? 'server' : 'client' });
      this.updateLive();
    });
    // Events that happened while nobody was connected (Zoom redelivers them).
    while (this.pending.length) {
      const p = this.pending.shift();
      if (p) this.deliverTo(ws, p.event, p.content);
    }
  }

  private updateLive(): void {
    this.stats.live = this.clients.size;
    this.stats.maxLive = Math.max(this.stats.maxLive, this.stats.live);
  }

  private deliverTo(ws: WebSocket, event: string, content: string): void {
    ws.send(JSON.stringify({ module: 'message', content }));
    this.deliveries.push({ at: Date.now(), event, content });
  }

  /** Mirror one event to every connected client (or keep it for the next one). */
  publish(event: string, content: string): void {
    if (this.closed) return;
    const open = [...this.clients.keys()].filter((w) => w.readyState === WebSocket.OPEN);
    if (!open.length) {
      // Only a subscription that has connected before gets redelivery (bounded).
      if (this.cfg.redeliver && this.stats.connectionsAccepted > 0 && this.pending.length < 1000) this.pending.push({ event, content });
      return;
    }
    for (const ws of open) this.deliverTo(ws, event, content);
  }

  closeClient(ws: WebSocket, code: number, reason: string): void {
    const st = this.clients.get(ws);
    if (st) st.serverClosed = true;
    ws.close(code, reason);
    const t = setTimeout(() => ws.terminate(), 500);
    ws.once('close', () => clearTimeout(t));
  }

  /** Fault: drop every live connection (abruptly when `abrupt`, else close 1001). */
  dropAll(abrupt = false): number {
    const n = this.clients.size;
    for (const [ws, st] of this.clients) {
      st.serverClosed = true;
      if (abrupt) ws.terminate();
      else this.closeClient(ws, 1001, 'going away');
    }
    return n;
  }

  close(): void {
    this.closed = true;
    for (const [ws, st] of this.clients) {
      if (st.timer) clearInterval(st.timer);
      ws.terminate();
    }
    this.clients.clear();
    this.wss.close();
  }
}
