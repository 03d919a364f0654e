/**
 * Events and scripted media (rtms-protocol.md §3): every tick, what the meeting script says
 * happened since the last one goes out as msg 6 events on signaling and as media on each
 * active media socket, at the negotiated rates.
 */
import type { Participant } from './meeting';
import { audioPacket, FRAME_CYCLE, toneHz, videoFrame } from './media';
import { Codec, EventType, MEDIA_KIND_MSG, MsgType, RESOLUTION_PX, SAMPLE_RATE_HZ, StopReason, type MediaKind } from './protocol';
import type { RtmsConfig } from './rtms';
import { MediaMessageEncoder, type EncodedMessage } from './rtms-media-encoder';
import type { Conn, SendFn, Stream, View } from './rtms-stream';

/** A meeting that ends terminates its stream, which the engine owns. */
export interface MediaPumpHost {
  send: SendFn;
  sendEncoded(c: Conn, msgType: number, json: EncodedMessage, userId?: number): boolean;
  terminate(s: Stream, reason: number): void;
}

type CorkableSocket = { cork?: () => void; uncork?: () => void };

export class RtmsMediaPump {
  /** Set when media messages are pre-encoded (rtms-media-encoder.ts); unset: JSON.stringify per message. */
  private readonly encoder?: MediaMessageEncoder;

  constructor(
    private readonly cfg: Pick<RtmsConfig, 'videoScale' | 'videoGrain' | 'mediaEncoding'>,
    private readonly streams: Map<string, Stream>,
    private readonly host: MediaPumpHost,
  ) {
    if (cfg.mediaEncoding === 'prebuilt') this.encoder = new MediaMessageEncoder();
  }

  private event(s: Stream, event: Record<string, unknown>, userId?: number): void {
    const et = Number(event.event_type);
    if (!s.signaling || (et !== 1 && et !== 7 && !s.subscriptions.has(et))) return;
    this.host.send(s.signaling, { msg_type: MsgType.EVENT_UPDATE, event }, userId);
  }

  computeView(s: Stream, lastSpeaker: number | undefined): View {
    const m = s.meeting;
    const t = m.now();
    const present = m.presentAt(t);
    const ids = new Set(present.map((p) => p.userId));
    let speaker = present.find((p) => m.speaking(p, t))?.userId ?? lastSpeaker;
    if (speaker !== undefined && !ids.has(speaker)) speaker = undefined;
    return { present: ids, camera: new Set(present.filter((p) => m.cameraOn(p, t)).map((p) => p.userId)), sharer: m.sharer(t)?.userId, speaker };
  }

  /** On a new subscription: tell the client the current state for that event type. */
  snapshot(s: Stream, et: number): void {
    this.updateView(s);
    const t = s.meeting.now();
    const ts = s.meeting.epoch(t);
    const present = s.meeting.presentAt(t);
    if (et === EventType.PARTICIPANT_JOIN && present.length)
      this.event(s, { event_type: 3, timestamp: ts, participants: present.map((p) => ({ user_id: p.userId, user_name: p.name })) });
    if (et === EventType.PARTICIPANT_VIDEO_ON) {
      const on = present.filter((p) => s.meeting.cameraOn(p, t));
      if (on.length) this.event(s, { event_type: 8, timestamp: ts, participants: on.map((p) => ({ user_id: p.userId })) });
    }
    if (et === EventType.SHARING_START) {
      const sh = s.meeting.sharer(t);
      if (sh) this.event(s, { event_type: 5, timestamp: ts, user_id: sh.userId, user_name: sh.name }, sh.userId);
    }
    if (et === EventType.ACTIVE_SPEAKER_CHANGE && s.view.speaker !== undefined) {
      const p = s.meeting.find(s.view.speaker);
      if (p) this.event(s, { event_type: 2, timestamp: ts, user_id: p.userId, user_name: p.name }, p.userId);
    }
  }

  private updateView(s: Stream): void {
    const m = s.meeting;
    const ts = m.epoch(m.now());
    const before = s.view;
    const v = this.computeView(s, before.speaker);
    s.view = v;
    const joined = [...v.present].filter((id) => !before.present.has(id));
    const left = [...before.present].filter((id) => !v.present.has(id));
    if (joined.length) this.event(s, { event_type: 3, timestamp: ts, participants: joined.map((id) => ({ user_id: id, user_name: m.find(id)?.name })) });
    if (left.length) this.event(s, { event_type: 4, timestamp: ts, participants: left.map((id) => ({ user_id: id, user_name: m.find(id)?.name })) });
    const on = [...v.camera].filter((id) => !before.camera.has(id));
    const off = [...before.camera].filter((id) => !v.camera.has(id));
    if (on.length) this.event(s, { event_type: 8, timestamp: ts, participants: on.map((id) => ({ user_id: id })) });
    if (off.length) this.event(s, { event_type: 9, timestamp: ts, participants: off.map((id) => ({ user_id: id })) });
    if (v.sharer !== before.sharer) {
      if (before.sharer !== undefined) this.event(s, { event_type: 6, timestamp: ts, user_id: before.sharer, user_name: m.find(before.sharer)?.name }, before.sharer);
      if (v.sharer !== undefined) this.event(s, { event_type: 5, timestamp: ts, user_id: v.sharer, user_name: m.find(v.sharer)?.name }, v.sharer);
    }
    if (v.speaker !== undefined && v.speaker !== before.speaker) this.event(s, { event_type: 2, timestamp: ts, user_id: v.speaker, user_name: m.find(v.speaker)?.name }, v.speaker);
  }

  tick(): void {
    for (const s of this.streams.values()) {
      if (s.terminated) continue;
      const m = s.meeting;
      if (m.durationMs !== undefined && m.now() >= m.durationMs) m.ended = true;
      if (m.ended) {
        this.host.terminate(s, StopReason.MEETING_ENDED);
        continue;
      }
      if (!s.signaling) continue;
      this.updateView(s);
      if (s.paused) continue;
      for (const c of s.media.values()) if (c.active && !c.closing) this.corked(c, () => this.pump(s, c));
    }
  }

  private firstPacket(s: Stream, ts: number): void {
    if (s.firstPacketSent) return;
    s.firstPacketSent = true;
    this.event(s, { event_type: EventType.FIRST_PACKET_TIMESTAMP, timestamp: ts });
  }

  /**
   * A tick's messages for one socket leave in one write: while the socket is corked, every
   * frame ws writes is queued and uncork hands them to the kernel together (one writev instead
   * of one per message). Each message is still its own WebSocket frame. Only with pre-encoded
   * media; `_socket` is ws's own net.Socket (not public API, hence the guard).
   */
  private corked(c: Conn, fn: () => void): void {
    const sock = this.encoder ? (c.ws as unknown as { _socket?: CorkableSocket })._socket : undefined;
    if (!sock?.cork || !sock.uncork) return fn();
    sock.cork();
    try {
      fn();
    } finally {
      sock.uncork();
    }
  }

  // Every media message goes out here: test/media-capture.e2e-spec.ts taps this method on the prototype.
  private media(s: Stream, c: Conn, kind: MediaKind, content: Record<string, unknown>, userId: number): void {
    this.firstPacket(s, Number(content.timestamp));
    const msgType = MEDIA_KIND_MSG[kind];
    if (this.encoder) this.host.sendEncoded(c, msgType, this.encoder.encode(msgType, content), userId);
    else this.host.send(c, { msg_type: msgType, content }, userId);
  }

  private pump(s: Stream, c: Conn): void {
    const m = s.meeting;
    const now = m.now();
    const congested = c.ws.bufferedAmount > 16 * 1024 * 1024;
    for (const kind of c.kinds) {
      const cur = c.cursors[kind];
      const p = c.params[kind];
      if (!cur || !p) continue;
      if (kind === 'audio') {
        const sendRate = Number(p.send_rate);
        const rate = SAMPLE_RATE_HZ[Number(p.sample_rate)];
        const ch = Number(p.channel);
        let n = 0;
        if (now - cur.next > 5000) cur.next = now - 5000;
        while (cur.next + sendRate <= now && n++ < 250) {
          const t = cur.next;
          cur.next += sendRate;
          const speakers = m.presentAt(t).filter((x) => !x.muted);
          if (!speakers.length) continue;
          const start = Math.round((t * rate) / 1000);
          const count = Math.round((rate * sendRate) / 1000);
          const mulaw = Number(p.codec) === Codec.G711;
          if (Number(p.data_opt) === 1) {
            const a = audioPacket(speakers.map((x) => toneHz(x.slot)), rate, start, count, ch, mulaw);
            this.media(s, c, 'audio', { user_id: 0, data: a.base64, length: a.length, timestamp: m.epoch(t) }, 0);
          } else {
            for (const x of speakers) {
              const a = audioPacket([toneHz(x.slot)], rate, start, count, ch, mulaw);
              this.media(s, c, 'audio', { user_id: x.userId, user_name: x.name, data: a.base64, length: a.length, timestamp: m.epoch(t) }, x.userId);
            }
          }
        }
      } else if (kind === 'video' || kind === 'deskshare') {
        const interval = 1000 / Number(p.fps);
        if (now - cur.next > 1000) cur.next = now; // video is not buffered: skip, don't burst
        while (cur.next <= now) {
          const t = cur.next;
          cur.next += interval;
          if (congested) continue;
          const users = kind === 'video' ? this.videoUsers(s, Number(p.data_opt), t) : [m.sharer(t)].filter((x): x is Participant => !!x);
          const px = RESOLUTION_PX[Number(p.resolution)] ?? RESOLUTION_PX[2];
          const size = { width: Math.max(16, Math.round(px.width * this.cfg.videoScale)), height: Math.max(16, Math.round(px.height * this.cfg.videoScale)) };
          const idx = Math.floor(t / 500) % FRAME_CYCLE;
          for (const u of users) {
            const f = videoFrame(u.slot, idx, size, Number(p.codec), kind === 'deskshare', this.cfg.videoGrain && kind === 'video');
            this.media(s, c, kind, { user_id: u.userId, user_name: u.name, data: f.base64, length: f.length, timestamp: m.epoch(t) }, u.userId);
          }
        }
      } else if (kind === 'transcript') {
        const from = cur.next;
        cur.next = now;
        for (const x of m.participants)
          for (const line of x.speaks ?? []) {
            const end = line.atMs + (line.durationMs ?? 2000);
            if (end > from && end <= now && m.present(x, line.atMs)) {
              const lang = line.language ?? (typeof p.src_language === 'number' && p.src_language >= 0 ? p.src_language : 9);
              this.media(s, c, 'transcript', { user_id: x.userId, user_name: x.name, start_time: m.epoch(line.atMs), end_time: m.epoch(end), timestamp: m.epoch(end), language: lang, attribute: 1, data: line.text }, x.userId);
            }
          }
      } else if (kind === 'chat') {
        const from = cur.next;
        cur.next = now;
        for (const x of m.participants)
          for (const line of x.chat ?? [])
            if (line.atMs > from && line.atMs <= now && m.present(x, line.atMs))
              this.media(s, c, 'chat', { user_id: x.userId, user_name: x.name, timestamp: m.epoch(line.atMs), data: line.text }, x.userId);
      }
    }
  }

  private videoUsers(s: Stream, dataOpt: number, t: number): Participant[] {
    const m = s.meeting;
    const cams = m.presentAt(t).filter((p) => m.cameraOn(p, t));
    if (dataOpt === 4) return cams.filter((p) => p.userId === s.videoSubscription);
    if (dataOpt === 5) return cams;
    const speaker = cams.find((p) => p.userId === s.view.speaker);
    return speaker ? [speaker] : cams.slice(0, 1);
  }
}
