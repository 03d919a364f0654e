/**
 * RTMS signaling + media WebSocket servers (rtms-protocol.md §2–§4). The engine is what the
 * simulator and its faults drive: it owns each stream's lifecycle (interruptions, reconnect
 * windows, failover, termination) and wires the pieces that do the rest: rtms-connections
 * (sockets), rtms-handshake, rtms-signaling, rtms-keep-alive and rtms-media-pump (events and
 * scripted media). The pieces reach each other only through the hosts built here, so each one
 * states what it needs.
 */
import type { IncomingMessage } from 'http';
import type { Duplex } from 'stream';
import { WebSocket } from 'ws';
import { MeetingState } from './meeting';
import { EventType, MEDIA_KIND_BIT, MsgType, SessionState, StopReason, StreamState, type MediaKind } from './protocol';
import { RtmsConnections } from './rtms-connections';
import { RtmsHandshake } from './rtms-handshake';
import { RtmsKeepAlive } from './rtms-keep-alive';
import { RtmsMediaPump } from './rtms-media-pump';
import { RtmsRecorder } from './rtms-records';
import { RtmsSignaling } from './rtms-signaling';
import { Conn, Stream, type MediaNotify, type MediaPath } from './rtms-stream';
import { TimerSet } from './rtms-timers';
import type { MediaEncoding, StreamRecord } from './types';

export interface RtmsConfig {
  clientId: string;
  clientSecret: string;
  /** The Video SDK app's key and secret: they sign the handshakes of Video SDK sessions. */
  sdkKey: string;
  sdkSecret: string;
  keepAliveIntervalMs: number;
  keepAliveMissLimit: number;
  signalingReconnectWindowMs: number;
  mediaReconnectWindowMs: number;
  mediaSplit: 'both' | 'all' | 'split';
  mediaScopes: MediaKind[];
  /** msg 2 also offers `deskshare`/`chat` keys (Zoom documents only audio, video, transcript and `all`). */
  shareChatUrls: boolean;
  /** msg 9's stop reason field: `stop_reason` as documented, or the docs table's `reason` (⚠ rtms-protocol.md §4). */
  sessionStateReasonField: 'stop_reason' | 'reason';
  tickMs: number;
  videoScale: number;
  videoGrain: boolean;
  mediaEncoding: MediaEncoding;
  accountId: string;
}

export interface RtmsHost {
  wsBase(): string;
  webhook(event: string, payload: Record<string, unknown>): void;
  log(line: string): void;
}

export class RtmsEngine {
  readonly streams = new Map<string, Stream>();
  readonly records = new Map<string, StreamRecord>();
  private readonly timers = new TimerSet();
  private readonly recorder: RtmsRecorder;
  private readonly connections: RtmsConnections;
  private readonly keepAlive: RtmsKeepAlive;
  private readonly mediaPump: RtmsMediaPump;
  private readonly handshake: RtmsHandshake;
  private readonly signaling: RtmsSignaling;
  private tick?: NodeJS.Timeout;

  constructor(
    private readonly cfg: RtmsConfig,
    private readonly host: RtmsHost,
  ) {
    this.recorder = new RtmsRecorder(this.records, host.log);
    this.connections = new RtmsConnections(this.recorder, this.timers, {
      signalingHandshake: (c, msg) => this.handshake.signaling(c, msg),
      mediaHandshake: (c, msg) => this.handshake.media(c, msg),
      signalingMessage: (c, type, msg) => this.signaling.handle(c, type, msg),
      keepAliveResponse: (c, msg) => this.keepAlive.onResponse(c, msg),
      stopKeepAlive: (c) => this.keepAlive.stop(c),
      interruptSignaling: (s, why, reason, webhook) => this.interruptSignaling(s, why, reason, webhook),
      armMediaWindow: (s, path, reason) => this.armMediaWindow(s, path, reason),
    });
    this.keepAlive = new RtmsKeepAlive(cfg, this.timers, this.recorder, {
      send: (c, msg) => this.connections.send(c, msg),
      interruptSignaling: (s, why, reason, webhook) => this.interruptSignaling(s, why, reason, webhook),
      interruptMedia: (s, c, why, notify, reason) => this.interruptMedia(s, c, why, notify, reason),
    });
    this.mediaPump = new RtmsMediaPump(cfg, this.streams, {
      send: (c, msg, userId) => this.connections.send(c, msg, userId),
      sendEncoded: (c, msgType, json, userId) => this.connections.sendEncoded(c, msgType, json, userId),
      terminate: (s, reason) => this.terminate(s, reason),
    });
    this.handshake = new RtmsHandshake(cfg, this.streams, this.recorder, this.timers, {
      send: (c, msg) => this.connections.send(c, msg),
      closeConn: (c, code, reason, disconnectReason) => this.connections.closeConn(c, code, reason, disconnectReason),
      mediaUrls: (gen) => this.mediaUrls(gen),
      computeView: (s) => this.mediaPump.computeView(s),
      startKeepAlive: (c) => this.keepAlive.start(c),
      mediaReady: (s, c) => this.mediaPump.prewarm(s, c),
    });
    this.signaling = new RtmsSignaling(this.recorder, {
      send: (c, msg) => this.connections.send(c, msg),
      snapshot: (s, eventType) => this.mediaPump.snapshot(s, eventType),
      terminate: (s, reason) => this.terminate(s, reason),
    });
    this.tick = setInterval(() => this.mediaPump.tick(), cfg.tickMs);
  }

  record(streamId: string): StreamRecord {
    return this.recorder.record(streamId);
  }

  /** Handle an HTTP upgrade for an /rtms/ path. Returns false if the path is not ours. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, pathname: string): boolean {
    return this.connections.handleUpgrade(req, socket, head, pathname);
  }

  // ───────────────────────────── urls ─────────────────────────────

  private prefix(gen: number): string {
    return `${this.host.wsBase()}/rtms${gen ? `/s${gen}` : ''}`;
  }

  signalingUrl(gen = 0): string {
    return `${this.prefix(gen)}/signaling`;
  }

  /**
   * msg 2's `media_server.server_urls` (rtms-protocol.md §2: `{audio, video, transcript, all}`,
   * only the types in scope). Deskshare and chat get no key of their own unless
   * `shareChatUrls`: a client reaches them through `all`.
   */
  mediaUrls(gen: number): Record<string, string> {
    const out: Record<string, string> = {};
    const keyed = (k: MediaKind) => this.cfg.shareChatUrls || (k !== 'deskshare' && k !== 'chat');
    if (this.cfg.mediaSplit !== 'all') for (const k of this.cfg.mediaScopes) if (keyed(k)) out[k] = `${this.prefix(gen)}/media/${k}`;
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
      this.connections.send(s.signaling, { msg_type: MsgType.STREAM_STATE_UPDATE, state: StreamState.TERMINATED, reason, timestamp: ts });
      this.connections.send(s.signaling, this.sessionState(s, SessionState.STOPPED, reason, ts));
    }
    this.recorder.setState(s, 'terminated');
    this.recorder.record(s.streamId).stopReason = reason;
    this.timers.clear(s.sigTimer);
    for (const t of s.mediaTimers.values()) this.timers.clear(t);
    s.mediaTimers.clear();
    for (const c of this.connsOf(s)) this.connections.closeConn(c, 1000, 'stream terminated', 'terminated');
    this.recorder.note(s, `terminated, stop reason ${reason}`);
    const m = s.meeting;
    const payload: Record<string, unknown> = m.kind === 'session' ? { session_id: m.uuid, session_key: m.topic } : { [m.kind === 'webinar' ? 'webinar_uuid' : 'meeting_uuid']: m.uuid };
    this.host.webhook(`${this.eventPrefix(m)}.rtms_stopped`, { ...payload, rtms_stream_id: s.streamId, stop_reason: reason });
  }

  /**
   * msg 9 `{state, stop_reason, timestamp, rtms_session_id}` (rtms-protocol.md §4). The docs' table
   * calls the field `reason` (⚠); the simulator sends one of the two, never both (the doc's rule:
   * send the documented form), so a client that reads only one of them is caught.
   */
  private sessionState(s: Stream, state: number, reason: number, ts: number): Record<string, unknown> {
    return { msg_type: MsgType.SESSION_STATE_UPDATE, state, [this.cfg.sessionStateReasonField]: reason, timestamp: ts, rtms_session_id: s.sessionId };
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
      this.connections.send(s.signaling, { msg_type: MsgType.STREAM_STATE_UPDATE, state: StreamState.PAUSED, reason: StopReason.MANUAL_API_TRIGGERED, timestamp: ts });
      this.connections.send(s.signaling, this.sessionState(s, SessionState.PAUSED, 0, ts));
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
      this.connections.send(s.signaling, { msg_type: MsgType.STREAM_STATE_UPDATE, state: StreamState.RESUMED, reason: StopReason.MANUAL_API_TRIGGERED, timestamp: ts });
      this.connections.send(s.signaling, this.sessionState(s, SessionState.RESUMED, 0, ts));
    }
  }

  /** Signaling lost: close signaling and media, optional webhook, wait for a new handshake. */
  interruptSignaling(s: Stream, why: string, reason: number, webhook: boolean): void {
    if (s.terminated) return;
    this.recorder.note(s, `signaling interrupted: ${why}`);
    this.recorder.record(s.streamId).disconnects.push({ at: Date.now(), kind: 'signaling', reason: why });
    this.dropAllConnections(s, 1000, why, why, reason);
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
    this.connections.closeConn(c, 1000, why, why);
    if (s.media.get(c.mediaPath) === c) s.media.delete(c.mediaPath);
    this.recorder.updateLive(s);
    const ts = Date.now();
    if (s.signaling && (notify === 'event' || notify === 'both')) {
      const mediaType = c.kinds.reduce((a, k) => a | MEDIA_KIND_BIT[k], 0);
      this.connections.send(s.signaling, { msg_type: MsgType.EVENT_UPDATE, event: { event_type: EventType.MEDIA_CONNECTION_INTERRUPTED, timestamp: ts, media_type: mediaType } });
    }
    if (s.signaling && (notify === 'state' || notify === 'both')) {
      this.connections.send(s.signaling, { msg_type: MsgType.STREAM_STATE_UPDATE, state: StreamState.INTERRUPTED, reason: StopReason.DATA_CONNECTION_INTERRUPTED, timestamp: ts });
    }
    this.armMediaWindow(s, c.mediaPath, reason);
  }

  /**
   * Closes every connection of the stream and stops its media; the stream waits for the
   * client to redo signaling within the window (or ends with `windowReason`).
   */
  private dropAllConnections(s: Stream, code: number, why: string, label: string, windowReason: number): void {
    for (const c of this.connsOf(s)) this.connections.closeConn(c, code, why, label);
    s.signaling = undefined;
    s.media.clear();
    for (const t of s.mediaTimers.values()) this.timers.clear(t);
    s.mediaTimers.clear();
    this.recorder.setState(s, 'interrupted');
    this.recorder.updateLive(s);
    this.armSignalingWindow(s, windowReason);
  }

  /** Server failover: new server_urls for the same stream; old connections closed. */
  failover(s: Stream): string {
    s.gen++;
    s.serverUrls = this.signalingUrl(s.gen);
    this.recorder.note(s, `failover to ${s.serverUrls}`);
    this.dropAllConnections(s, 1001, 'server failover', 'failover', StopReason.AWAIT_RECONNECTION_TIMEOUT);
    return s.serverUrls;
  }

  // ───────────────────────────── fault helpers ─────────────────────────────

  mediaConn(s: Stream, path?: MediaPath): Conn | undefined {
    if (path) return s.media.get(path);
    return s.media.get('all') ?? [...s.media.values()][0];
  }

  /** Send raw text or bytes (fault injection). */
  sendRaw(c: Conn, data: string | Buffer, binary = false): void {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(data, { binary });
  }

  close(): void {
    if (this.tick) clearInterval(this.tick);
    this.timers.clearAll();
    this.connections.shutdown();
  }
}
