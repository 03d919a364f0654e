/**
 * The RTMS WebSocket endpoints: accepting a socket on an /rtms/ path, parsing what it sends and
 * routing it, counting what goes out, and closing. What a message means is up to the host.
 */
import type { IncomingMessage } from 'http';
import type { Duplex } from 'stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { int, isRecord } from './http-util';
import { MsgType, StopReason } from './protocol';
import type { EncodedMessage } from './rtms-media-encoder';
import type { RtmsRecorder } from './rtms-records';
import { Conn, type MediaPath, type Stream } from './rtms-stream';
import type { TimerSet } from './rtms-timers';
import type { ConnectionRecord } from './types';

/** Where parsed messages and lost sockets go: the engine's handshake, signaling, keep-alive and lifecycle. */
export interface ConnectionHost {
  signalingHandshake(c: Conn, msg: Record<string, unknown>): void;
  mediaHandshake(c: Conn, msg: Record<string, unknown>): void;
  signalingMessage(c: Conn, type: number, msg: Record<string, unknown>): void;
  keepAliveResponse(c: Conn, msg: Record<string, unknown>): void;
  stopKeepAlive(c: Conn): void;
  interruptSignaling(s: Stream, why: string, reason: number, webhook: boolean): void;
  armMediaWindow(s: Stream, path: MediaPath, reason: number): void;
}

/** Zoom sends every RTMS message as a JSON text frame; a Buffer would otherwise go out as a binary one. */
const TEXT = { binary: false } as const;

const PATH_RE = /^\/rtms\/(?:s(\d+)\/)?(signaling|media\/(all|audio|video|deskshare|transcript|chat))\/?$/;

export class RtmsConnections {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  private readonly conns = new Set<Conn>();
  private nextConnId = 1;
  private closed = false;

  constructor(
    private readonly recorder: RtmsRecorder,
    private readonly timers: TimerSet,
    private readonly host: ConnectionHost,
  ) {}

  /** Handle an HTTP upgrade for an /rtms/ path. Returns false if the path is not ours. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, pathname: string): boolean {
    const m = PATH_RE.exec(pathname);
    if (!m || this.closed) return false;
    const gen = m[1] ? Number(m[1]) : 0;
    const mediaPath = m[3] as MediaPath | undefined;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, gen, pathname, mediaPath));
    return true;
  }

  private onConnection(ws: WebSocket, gen: number, path: string, mediaPath: MediaPath | undefined): void {
    const id = this.nextConnId++;
    const rec: ConnectionRecord = { id, kind: mediaPath ? 'media' : 'signaling', path, mediaPath, openedAt: Date.now() };
    const c = new Conn(id, ws, rec.kind, gen, path, mediaPath, rec);
    this.conns.add(c);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(c, data, isBinary));
    ws.on('error', () => undefined);
    ws.on('close', (code: number, reason: Buffer) => this.onClose(c, code, reason.toString('utf8')));
  }

  private onClose(c: Conn, code: number, reason: string): void {
    this.conns.delete(c);
    this.host.stopKeepAlive(c);
    c.rec.closedAt = Date.now();
    c.rec.closeCode = code;
    c.rec.closeReason = reason;
    if (!c.rec.closedBy) c.rec.closedBy = 'client';
    const s = c.stream;
    // A socket whose close event arrives after shutdown() must not arm reconnect windows (timers outliving stop()).
    if (!s || this.closed) return;
    const byClient = c.rec.closedBy === 'client';
    if (c.kind === 'signaling' && s.signaling === c) {
      s.signaling = undefined;
      if (byClient && !s.terminated) this.host.interruptSignaling(s, `signaling closed by client (code ${code})`, StopReason.SIGNAL_CONNECTION_CLOSED_ABNORMALLY, true);
    } else if (c.mediaPath && s.media.get(c.mediaPath) === c) {
      s.media.delete(c.mediaPath);
      if (byClient && !s.terminated) {
        this.recorder.record(s.streamId).disconnects.push({ at: Date.now(), kind: 'media', reason: `media ${c.mediaPath} closed by client (code ${code})` });
        this.host.armMediaWindow(s, c.mediaPath, StopReason.DATA_CONNECTION_CLOSED_ABNORMALLY);
      }
    }
    this.recorder.updateLive(s);
  }

  private onMessage(c: Conn, data: RawData, _isBinary: boolean): void {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    let msg: unknown;
    try {
      msg = JSON.parse(buf.toString('utf8'));
    } catch {
      msg = undefined;
    }
    const type = isRecord(msg) ? int(msg.msg_type) : undefined;
    if (!isRecord(msg) || type === undefined) {
      if (c.stream) this.recorder.record(c.stream.streamId).messagesReceived.invalid++;
      return;
    }
    if (c.stream) {
      const r = this.recorder.record(c.stream.streamId);
      r.messagesReceived.byType[type] = (r.messagesReceived.byType[type] ?? 0) + 1;
    }
    if (type === MsgType.KEEP_ALIVE_RESP) return this.host.keepAliveResponse(c, msg);
    if (type === MsgType.KEEP_ALIVE_REQ) {
      this.send(c, { msg_type: MsgType.KEEP_ALIVE_RESP, timestamp: msg.timestamp ?? Date.now() });
      return;
    }
    if (c.kind === 'signaling') {
      if (!c.handshaken) {
        if (type === MsgType.SIGNALING_HAND_SHAKE_REQ) this.host.signalingHandshake(c, msg);
        return;
      }
      this.host.signalingMessage(c, type, msg);
    } else {
      if (!c.handshaken && type === MsgType.DATA_HAND_SHAKE_REQ) this.host.mediaHandshake(c, msg);
    }
  }

  send(c: Conn, msg: Record<string, unknown>, userId?: number): boolean {
    return this.sendEncoded(c, Number(msg.msg_type), JSON.stringify(msg), userId);
  }

  /** Sends a message already serialised to JSON (a text frame, whatever its form) and counts it. */
  sendEncoded(c: Conn, msgType: number, json: EncodedMessage, userId?: number): boolean {
    if (c.ws.readyState !== WebSocket.OPEN) return false;
    c.ws.send(json, TEXT);
    const s = c.stream;
    if (s) {
      const r = this.recorder.record(s.streamId);
      r.messagesSent.byType[msgType] = (r.messagesSent.byType[msgType] ?? 0) + 1;
      if (userId !== undefined) {
        const u = (r.messagesSent.byUser[String(userId)] ??= {});
        u[msgType] = (u[msgType] ?? 0) + 1;
      }
    }
    return true;
  }

  closeConn(c: Conn, code: number, reason: string, disconnectReason: string): void {
    if (c.closing) return;
    c.closing = true;
    c.active = false;
    if (!c.rec.closedBy) c.rec.closedBy = 'server';
    c.rec.disconnectReason ??= disconnectReason;
    this.host.stopKeepAlive(c);
    try {
      c.ws.close(code, reason.slice(0, 120));
    } catch {
      c.ws.terminate();
    }
    const t = this.timers.later(1000, () => c.ws.terminate());
    c.ws.once('close', () => this.timers.clear(t));
  }

  /** Refuse new sockets and drop the open ones without a close handshake: the simulator is stopping. */
  shutdown(): void {
    this.closed = true;
    for (const c of this.conns) c.ws.terminate();
    this.conns.clear();
    this.wss.close();
  }
}
