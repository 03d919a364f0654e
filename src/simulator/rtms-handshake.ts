/**
 * The signaling (msg 1/2) and media (msg 3/4) handshakes (rtms-protocol.md §2): which request
 * gets which status code, and what a socket that passes is bound to.
 */
import { WebSocket } from 'ws';
import { MEDIA_KIND_BIT, MEDIA_KINDS, MediaBit, MsgType, Status, statusReason, type MediaKind } from './protocol';
import type { RtmsConfig } from './rtms';
import { validateMediaParams } from './rtms-media-params';
import type { RtmsRecorder } from './rtms-records';
import type { Conn, MediaPath, SendFn, Stream, View } from './rtms-stream';
import type { TimerSet } from './rtms-timers';
import { rtmsHandshakeSignature, safeEqual } from './signing';

/** A socket that passes its handshake is handed over to the rest of the engine through this. */
export interface HandshakeHost {
  send: SendFn;
  closeConn(c: Conn, code: number, reason: string, disconnectReason: string): void;
  mediaUrls(gen: number): Record<string, string>;
  computeView(s: Stream): View;
  startKeepAlive(c: Conn): void;
  /** A media socket is ready to carry media with its confirmed params. */
  mediaReady(s: Stream, c: Conn): void;
}

export class RtmsHandshake {
  constructor(
    private readonly cfg: Pick<RtmsConfig, 'clientId' | 'clientSecret' | 'sdkKey' | 'sdkSecret' | 'mediaScopes'>,
    private readonly streams: Map<string, Stream>,
    private readonly recorder: RtmsRecorder,
    private readonly timers: TimerSet,
    private readonly host: HandshakeHost,
  ) {}

  private fail(c: Conn, streamId: string, msg: Record<string, unknown>, status: number): void {
    const reason = statusReason(status);
    c.rec.handshakeStatus = status;
    const rec = this.recorder.record(streamId);
    rec.handshakes.push({ at: Date.now(), socket: c.kind, path: c.path, statusCode: status, reason, request: msg });
    rec.connections.push(c.rec);
    const resp =
      c.kind === 'signaling'
        ? { msg_type: MsgType.SIGNALING_HAND_SHAKE_RESP, protocol_version: 1, sequence: msg.sequence ?? 0, status_code: status, reason }
        : { msg_type: MsgType.DATA_HAND_SHAKE_RESP, protocol_version: 1, sequence: msg.sequence ?? 0, status_code: status, reason, payload_encrypted: false };
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(resp));
    this.host.closeConn(c, 1000, reason, `handshake failed: ${reason}`);
  }

  private lookup(c: Conn, msg: Record<string, unknown>): { s?: Stream; sid: string; status: number } {
    const sid = typeof msg.rtms_stream_id === 'string' ? msg.rtms_stream_id : '';
    // rtms-protocol.md §2: the id (meeting_uuid, webinar_uuid, session_id or engagement_id) is
    // always sent in the `meeting_uuid` field; a request without it is INVALID_PAYLOAD (4).
    const uuid = msg.meeting_uuid;
    if (!sid || typeof uuid !== 'string' || typeof msg.signature !== 'string') return { sid: sid || '(none)', status: Status.INVALID_PAYLOAD };
    const s = this.streams.get(sid);
    if (!s || s.terminated || s.gen !== c.gen) return { sid, status: Status.INVALID_RTMS_STREAM_ID };
    // A Video SDK session's handshake is signed with the SDK app's key and secret (rtms-protocol.md §2).
    const [appId, appSecret] = s.meeting.kind === 'session' ? [this.cfg.sdkKey, this.cfg.sdkSecret] : [this.cfg.clientId, this.cfg.clientSecret];
    const expected = rtmsHandshakeSignature(appId, appSecret, s.meeting.uuid, sid);
    if (uuid !== s.meeting.uuid || !safeEqual(expected, msg.signature)) return { s, sid, status: Status.INVALID_SIGNATURE };
    return { s, sid, status: Status.OK };
  }

  signaling(c: Conn, msg: Record<string, unknown>): void {
    const { s, sid, status } = this.lookup(c, msg);
    if (status !== Status.OK || !s) return this.fail(c, sid, msg, status);
    if (s.signaling && !s.signaling.closing && s.signaling.ws.readyState === WebSocket.OPEN) return this.fail(c, sid, msg, Status.DUPLICATE_SIGNAL_REQUEST);
    c.stream = s;
    c.handshaken = true;
    c.rec.handshakeStatus = 0;
    s.signaling = c;
    s.subscriptions.clear();
    s.firstPacketSent = false;
    // rtms-protocol.md §2: `buffer_data` defaults to true; only false drops the pre-connect audio.
    s.bufferData = msg.buffer_data !== false;
    s.view = this.host.computeView(s);
    this.timers.clear(s.sigTimer);
    s.sigTimer = undefined;
    for (const t of s.mediaTimers.values()) this.timers.clear(t);
    s.mediaTimers.clear();
    const rec = this.recorder.record(sid);
    rec.handshakes.push({ at: Date.now(), socket: 'signaling', path: c.path, statusCode: 0, reason: 'OK', request: msg });
    rec.connections.push(c.rec);
    this.recorder.setState(s, s.paused ? 'paused' : 'active');
    this.host.send(c, {
      msg_type: MsgType.SIGNALING_HAND_SHAKE_RESP,
      protocol_version: 1,
      sequence: msg.sequence ?? 0,
      status_code: 0,
      reason: '',
      media_server: { server_urls: this.host.mediaUrls(s.gen), srtp_keys: {} },
    });
    this.recorder.updateLive(s);
    this.host.startKeepAlive(c);
    this.recorder.note(s, `signaling handshake ok (conn ${c.id})`);
  }

  media(c: Conn, msg: Record<string, unknown>): void {
    const { s, sid, status } = this.lookup(c, msg);
    if (status !== Status.OK || !s) return this.fail(c, sid, msg, status);
    if (!s.signaling || !s.signaling.handshaken) return this.fail(c, sid, msg, Status.INVALID_RTMS_STREAM_ID);
    const path = c.mediaPath as MediaPath;
    const offered = this.host.mediaUrls(s.gen);
    if (!offered[path]) return this.fail(c, sid, msg, Status.INVALID_MEDIA_TYPE);
    const mt = msg.media_type;
    if (typeof mt !== 'number' || !Number.isInteger(mt) || mt <= 0 || mt >= 64) return this.fail(c, sid, msg, Status.MEDIA_TYPE_INVALID_VALUE);
    let kinds: MediaKind[];
    if (path === 'all') {
      // In bit order whatever order the scopes were listed in (the pump sends audio first).
      kinds = MEDIA_KINDS.filter((k) => (mt & MediaBit.ALL ? this.cfg.mediaScopes.includes(k) : mt & MEDIA_KIND_BIT[k]));
    } else {
      if (mt !== MEDIA_KIND_BIT[path]) return this.fail(c, sid, msg, Status.INVALID_MEDIA_TYPE);
      kinds = [path];
    }
    const notSupported: Record<MediaKind, number> = {
      audio: Status.MEDIA_TYPE_AUDIO_NOT_SUPPORT,
      video: Status.MEDIA_TYPE_VIDEO_NOT_SUPPORT,
      deskshare: Status.MEDIA_TYPE_DESKSHARE_NOT_SUPPORT,
      transcript: Status.MEDIA_TYPE_TRANSCRIPT_NOT_SUPPORT,
      chat: Status.MEDIA_TYPE_CHAT_NOT_SUPPORT,
    };
    for (const k of kinds) if (!this.cfg.mediaScopes.includes(k)) return this.fail(c, sid, msg, notSupported[k]);
    if (kinds.length === 0) return this.fail(c, sid, msg, Status.MEDIA_TYPE_INVALID_VALUE);
    const live = (p: MediaPath) => {
      const x = s.media.get(p);
      return !!x && !x.closing && x.ws.readyState === WebSocket.OPEN;
    };
    // One media connection per type (rtms-protocol.md §6 pitfall 2: statuses 15/16). What a
    // connection carries decides, not its path: an `all` connection may carry the types
    // that have no URL of their own (deskshare, chat) next to per-type connections, as Zoom's
    // library falls back to `all` for them.
    const overlaps = (p: MediaPath) => live(p) && s.media.get(p)!.kinds.some((k) => kinds.includes(k));
    if (live('all') && (path === 'all' || overlaps('all'))) return this.fail(c, sid, msg, Status.MEDIA_DATA_ALL_CONNECTION_EXIST);
    if (MEDIA_KINDS.some((k) => overlaps(k))) return this.fail(c, sid, msg, Status.DUPLICATE_MEDIA_DATA_CONNECTION);
    const v = validateMediaParams(kinds, msg.media_params);
    if ('status' in v) return this.fail(c, sid, msg, v.status);
    c.stream = s;
    c.handshaken = true;
    c.kinds = kinds;
    c.params = v.confirmed;
    c.rec.handshakeStatus = 0;
    s.media.set(path, c);
    this.timers.clear(s.mediaTimers.get(path));
    s.mediaTimers.delete(path);
    const rec = this.recorder.record(sid);
    rec.handshakes.push({ at: Date.now(), socket: 'media', path: c.path, statusCode: 0, reason: 'OK', request: msg });
    rec.connections.push(c.rec);
    this.host.send(c, {
      msg_type: MsgType.DATA_HAND_SHAKE_RESP,
      protocol_version: 1,
      status_code: 0,
      reason: '',
      sequence: msg.sequence ?? 0,
      payload_encrypted: false,
      media_params: v.confirmed,
    });
    this.recorder.updateLive(s);
    this.host.startKeepAlive(c);
    this.host.mediaReady(s, c);
    this.recorder.note(s, `media handshake ok on ${path} (${kinds.join(',')})`);
  }
}
