/**
 * RTMS signaling + media WebSocket servers (rtms-protocol.md §2–§4): handshakes and their
 * status codes, keep-alives, event subscription, scripted media, interruptions, reconnect
 * windows, failover and stream termination.
 */
import type { IncomingMessage } from 'http';
import type { Duplex } from 'stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { int, isRecord } from './http-util';
import { MeetingState } from './meeting';
import {
  EventType,
  MEDIA_KIND_BIT,
  MsgType,
  SessionState,
  StopReason,
  StreamState,
  type MediaKind,
} from './protocol';
import { RtmsHandshake } from './rtms-handshake';
import { RtmsKeepAlive } from './rtms-keep-alive';
import { RtmsMediaPump } from './rtms-media-pump';
import { RtmsRecorder } from './rtms-records';
import { RtmsSignaling } from './rtms-signaling';
import { Conn, Stream, type MediaNotify, type MediaPath } from './rtms-stream';
import { TimerSet } from './rtms-timers';
import type { ConnectionRecord, StreamRecord } from './types';

export interface RtmsConfig {
  clientId: string;
  clientSecret: string;
  keepAliveIntervalMs: number;
  keepAliveMissLimit: number;
  signalingReconnectWindowMs: number;
  mediaReconnectWindowMs: number;
  mediaSplit: 'both' | 'all' | 'split';
  mediaScopes: MediaKind[];
  tickMs: number;
  videoScale: number;
  accountId: string;
}

export interface RtmsHost {
  wsBase(): string;
  webhook(event: string, payload: Record<string, unknown>): void;
  log(line: string): void;
}

const PATH_RE = /^\/rtms\/(?:s(\d+)\/)?(signaling|media\/(all|audio|video|deskshare|transcript|chat))\/?$/;

export class RtmsEngine {
  readonly streams = new Map<string, Stream>();
  readonly records = new Map<string, StreamRecord>();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  private readonly conns = new Set<Conn>();
  private readonly timers = new TimerSet();
  private readonly recorder: RtmsRecorder;
  private readonly keepAlive: RtmsKeepAlive;
  private readonly mediaPump: RtmsMediaPump;
  private readonly handshake: RtmsHandshake;
  private readonly signaling: RtmsSignaling;
  private tick?: NodeJS.Timeout;
  private nextConnId = 1;
  private closed = false;

  constructor(
    private readonly cfg: RtmsConfig,
    private readonly host: RtmsHost,
  ) {
    this.recorder = new RtmsRecorder(this.records, host.log);
    this.keepAlive = new RtmsKeepAlive(cfg, this.timers, this.recorder, {
      send: (c, msg) => this.send(c, msg),
      interruptSignaling: (s, why, reason, webhook) => this.interruptSignaling(s, why, reason, webhook),
      interruptMedia: (s, c, why, notify, reason) => this.interruptMedia(s, c, why, notify, reason),
    });
    this.mediaPump = new RtmsMediaPump(cfg, this.streams, {
      send: (c, msg, userId) => this.send(c, msg, userId),
      terminate: (s, reason) => this.terminate(s, reason),
    });
    this.handshake = new RtmsHandshake(cfg, this.streams, this.recorder, this.timers, {
      send: (c, msg) => this.send(c, msg),
      closeConn: (c, code, reason, disconnectReason) => this.closeConn(c, code, reason, disconnectReason),
      mediaUrls: (gen) => this.mediaUrls(gen),
      computeView: (s, lastSpeaker) => this.mediaPump.computeView(s, lastSpeaker),
      startKeepAlive: (c) => this.keepAlive.start(c),
    });
    this.signaling = new RtmsSignaling(this.recorder, {
      send: (c, msg) => this.send(c, msg),
      snapshot: (s, eventType) => this.mediaPump.snapshot(s, eventType),
      terminate: (s, reason) => this.terminate(s, reason),
    });
    this.tick = setInterval(() => this.mediaPump.tick(), cfg.tickMs);
  }

  record(streamId: string): StreamRecord {
    return this.recorder.record(streamId);
  }

  // ───────────────────────────── urls ─────────────────────────────

  private prefix(gen: number): string {
    return `${this.host.wsBase()}/rtms${gen ? `/s${gen}` : ''}`;
  }

  signalingUrl(gen = 0): string {
    return `${this.prefix(gen)}/signaling`;
  }

  mediaUrls(gen: number): Record<string, string> {
    const out: Record<string, string> = {};
    if (this.cfg.mediaSplit !== 'all') for (const k of this.cfg.mediaScopes) out[k] = `${this.prefix(gen)}/media/${k}`;
    if (this.cfg.mediaSplit !== 'split') out.all = `${this.prefix(gen)}/media/all`;
    return out;
  }

  // ───────────────────────────── lifecycle ─────────────────────────────

  /** Create a stream (the caller sends the rtms_started webhook). */
  createStream(meeting: MeetingState, operatorId: string): Stream {
    const s = new Stream(meeting, operatorId);
    s.serverUrls = this.signalingUrl(0);
    this.streams.set(s.streamId, s);
    const r = this.recorder.record(s.streamId);
    r.meetingId = meeting.id;
    r.meetingUuid = meeting.uuid;
    this.recorder.setState(s, 'started');
    // Until a client connects, the stream waits like an interrupted one.
    this.armSignalingWindow(s, StopReason.CONNECTION_TIMEOUT);
    return s;
  }

  private armSignalingWindow(s: Stream, reason: number): void {
    this.timers.clear(s.sigTimer);
    s.interruptReason = reason;
    s.sigTimer = this.timers.later(this.cfg.signalingReconnectWindowMs, () => {
      s.sigTimer = undefined;
      if (!s.terminated && !s.signaling) {
        this.recorder.note(s, `signaling reconnect window expired (stop reason ${reason})`);
        this.terminate(s, reason);
      }
    });
  }

  private armMediaWindow(s: Stream, path: MediaPath, reason: number): void {
    this.timers.clear(s.mediaTimers.get(path));
    s.mediaTimers.set(
      path,
      this.timers.later(this.cfg.mediaReconnectWindowMs, () => {
        s.mediaTimers.delete(path);
        if (!s.terminated && !s.media.get(path)) {
          this.recorder.note(s, `media (${path}) reconnect window expired`);
          this.terminate(s, reason);
        }
      }),
    );
  }

  terminate(s: Stream, reason: number): void {
    if (s.terminated) return;
    const ts = Date.now();
    if (s.signaling) {
      this.send(s.signaling, { msg_type: MsgType.STREAM_STATE_UPDATE, state: StreamState.TERMINATED, reason, timestamp: ts });
      this.send(s.signaling, { msg_type: MsgType.SESSION_STATE_UPDATE, state: SessionState.STOPPED, stop_reason: reason, reason, timestamp: ts, rtms_session_id: s.sessionId });
    }
    this.recorder.setState(s, 'terminated');
    this.recorder.record(s.streamId).stopReason = reason;
    this.timers.clear(s.sigTimer);
    for (const t of s.mediaTimers.values()) this.timers.clear(t);
    s.mediaTimers.clear();
    for (const c of this.connsOf(s)) this.closeConn(c, 1000, 'stream terminated', 'terminated');
    this.recorder.note(s, `terminated, stop reason ${reason}`);
    const m = s.meeting;
    const payload: Record<string, unknown> = m.kind === 'session' ? { session_id: m.uuid, session_key: m.topic } : { [m.kind === 'webinar' ? 'webinar_uuid' : 'meeting_uuid']: m.uuid };
    this.host.webhook(`${this.eventPrefix(m)}.rtms_stopped`, { ...payload, rtms_stream_id: s.streamId, stop_reason: reason });
  }

  eventPrefix(m: MeetingState): string {
    return m.kind === 'session' ? 'session' : m.kind;
  }

  private connsOf(s: Stream): Conn[] {
    return [...(s.signaling ? [s.signaling] : []), ...s.media.values()];
  }

  pause(s: Stream): void {
    if (s.paused || s.terminated) return;
    s.paused = true;
    this.recorder.setState(s, 'paused');
    const ts = Date.now();
    if (s.signaling) {
      this.send(s.signaling, { msg_type: MsgType.STREAM_STATE_UPDATE, state: StreamState.PAUSED, reason: StopReason.MANUAL_API_TRIGGERED, timestamp: ts });
      this.send(s.signaling, { msg_type: MsgType.SESSION_STATE_UPDATE, state: SessionState.PAUSED, stop_reason: 0, reason: 0, timestamp: ts, rtms_session_id: s.sessionId });
    }
  }

  resume(s: Stream): void {
    if (!s.paused || s.terminated) return;
    s.paused = false;
    this.recorder.setState(s, s.signaling ? 'active' : 'interrupted');
    const ts = Date.now();
    const now = s.meeting.now();
    for (const c of s.media.values()) for (const k of c.kinds) c.cursors[k] = { next: now };
    if (s.signaling) {
      this.send(s.signaling, { msg_type: MsgType.STREAM_STATE_UPDATE, state: StreamState.RESUMED, reason: StopReason.MANUAL_API_TRIGGERED, timestamp: ts });
      this.send(s.signaling, { msg_type: MsgType.SESSION_STATE_UPDATE, state: SessionState.RESUMED, stop_reason: 0, reason: 0, timestamp: ts, rtms_session_id: s.sessionId });
    }
  }

  /** Signaling lost: close signaling and media, optional webhook, wait for a new handshake. */
  interruptSignaling(s: Stream, why: string, reason: number, webhook: boolean): void {
    if (s.terminated) return;
    this.recorder.note(s, `signaling interrupted: ${why}`);
    this.recorder.record(s.streamId).disconnects.push({ at: Date.now(), kind: 'signaling', reason: why });
    for (const c of this.connsOf(s)) this.closeConn(c, 1000, why, why);
    s.signaling = undefined;
    s.media.clear();
    for (const t of s.mediaTimers.values()) this.timers.clear(t);
    s.mediaTimers.clear();
    this.recorder.setState(s, 'interrupted');
    this.recorder.updateLive(s);
    this.armSignalingWindow(s, reason);
    if (webhook) {
      const m = s.meeting;
      const idField = m.kind === 'session' ? { session_id: m.uuid, session_key: m.topic } : { [m.kind === 'webinar' ? 'webinar_uuid' : 'meeting_uuid']: m.uuid };
      this.host.webhook(`${this.eventPrefix(m)}.rtms_interrupted`, { ...idField, rtms_stream_id: s.streamId });
    }
  }

  /** One media connection lost: close it, notify on signaling, wait for a new media handshake. */
  interruptMedia(s: Stream, c: Conn, why: string, notify: MediaNotify, reason: number): void {
    if (s.terminated || !c.mediaPath) return;
    this.recorder.note(s, `media ${c.mediaPath} interrupted: ${why}`);
    this.recorder.record(s.streamId).disconnects.push({ at: Date.now(), kind: 'media', reason: why });
    this.closeConn(c, 1000, why, why);
    if (s.media.get(c.mediaPath) === c) s.media.delete(c.mediaPath);
    this.recorder.updateLive(s);
    const ts = Date.now();
    if (s.signaling && (notify === 'event' || notify === 'both')) {
      const mediaType = c.kinds.reduce((a, k) => a | MEDIA_KIND_BIT[k], 0);
      this.send(s.signaling, { msg_type: MsgType.EVENT_UPDATE, event: { event_type: EventType.MEDIA_CONNECTION_INTERRUPTED, timestamp: ts, media_type: mediaType } });
    }
    if (s.signaling && (notify === 'state' || notify === 'both')) {
      this.send(s.signaling, { msg_type: MsgType.STREAM_STATE_UPDATE, state: StreamState.INTERRUPTED, reason: StopReason.DATA_CONNECTION_INTERRUPTED, timestamp: ts });
    }
    this.armMediaWindow(s, c.mediaPath, reason);
  }

  /** Server failover: new server_urls for the same stream; old connections closed. */
  failover(s: Stream): string {
    s.gen++;
    s.serverUrls = this.signalingUrl(s.gen);
    this.recorder.note(s, `failover to ${s.serverUrls}`);
    for (const c of this.connsOf(s)) this.closeConn(c, 1001, 'server failover', 'failover');
    s.signaling = undefined;
    s.media.clear();
    for (const t of s.mediaTimers.values()) this.timers.clear(t);
    s.mediaTimers.clear();
    this.recorder.setState(s, 'interrupted');
    this.recorder.updateLive(s);
    this.armSignalingWindow(s, StopReason.AWAIT_RECONNECTION_TIMEOUT);
    return s.serverUrls;
  }

  private closeConn(c: Conn, code: number, reason: string, disconnectReason: string): void {
    if (c.closing) return;
    c.closing = true;
    c.active = false;
    if (!c.rec.closedBy) c.rec.closedBy = 'server';
    c.rec.disconnectReason ??= disconnectReason;
    this.keepAlive.stop(c);
    try {
      c.ws.close(code, reason.slice(0, 120));
    } catch {
      c.ws.terminate();
    }
    const t = this.timers.later(1000, () => c.ws.terminate());
    c.ws.once('close', () => this.timers.clear(t));
  }

  // ───────────────────────────── connections ─────────────────────────────

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
    this.keepAlive.stop(c);
    c.rec.closedAt = Date.now();
    c.rec.closeCode = code;
    c.rec.closeReason = reason;
    if (!c.rec.closedBy) c.rec.closedBy = 'client';
    const s = c.stream;
    if (!s) return;
    const byClient = c.rec.closedBy === 'client';
    if (c.kind === 'signaling' && s.signaling === c) {
      s.signaling = undefined;
      if (byClient && !s.terminated) this.interruptSignaling(s, `signaling closed by client (code ${code})`, StopReason.SIGNAL_CONNECTION_CLOSED_ABNORMALLY, true);
    } else if (c.mediaPath && s.media.get(c.mediaPath) === c) {
      s.media.delete(c.mediaPath);
      if (byClient && !s.terminated) {
        this.recorder.record(s.streamId).disconnects.push({ at: Date.now(), kind: 'media', reason: `media ${c.mediaPath} closed by client (code ${code})` });
        this.armMediaWindow(s, c.mediaPath, StopReason.DATA_CONNECTION_CLOSED_ABNORMALLY);
      }
    }
    this.recorder.updateLive(s);
  }

  private send(c: Conn, msg: Record<string, unknown>, userId?: number): boolean {
    if (c.ws.readyState !== WebSocket.OPEN) return false;
    c.ws.send(JSON.stringify(msg));
    const s = c.stream;
    if (s) {
      const r = this.recorder.record(s.streamId);
      const t = Number(msg.msg_type);
      r.messagesSent.byType[t] = (r.messagesSent.byType[t] ?? 0) + 1;
      if (userId !== undefined) {
        const u = (r.messagesSent.byUser[String(userId)] ??= {});
        u[t] = (u[t] ?? 0) + 1;
      }
    }
    return true;
  }

  /** Send raw text or bytes (fault injection). */
  sendRaw(c: Conn, data: string | Buffer, binary = false): void {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(data, { binary });
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
    if (type === MsgType.KEEP_ALIVE_RESP) return this.keepAlive.onResponse(c, msg);
    if (type === MsgType.KEEP_ALIVE_REQ) {
      this.send(c, { msg_type: MsgType.KEEP_ALIVE_RESP, timestamp: msg.timestamp ?? Date.now() });
      return;
    }
    if (c.kind === 'signaling') {
      if (!c.handshaken) {
        if (type === MsgType.SIGNALING_HAND_SHAKE_REQ) this.handshake.signaling(c, msg);
        return;
      }
      this.signaling.handle(c, type, msg);
    } else {
      if (!c.handshaken && type === MsgType.DATA_HAND_SHAKE_REQ) this.handshake.media(c, msg);
    }
  }

  // ───────────────────────────── fault helpers ─────────────────────────────

  mediaConn(s: Stream, path?: MediaPath): Conn | undefined {
    if (path) return s.media.get(path);
    return s.media.get('all') ?? [...s.media.values()][0];
  }

  close(): void {
    this.closed = true;
    if (this.tick) clearInterval(this.tick);
    this.timers.clearAll();
    for (const c of this.conns) c.ws.terminate();
    this.conns.clear();
    this.wss.close();
  }
}
