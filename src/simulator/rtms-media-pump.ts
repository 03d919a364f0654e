/**
 * Events and scripted media (rtms-protocol.md §3): every tick, what the meeting script says
 * happened since the last one goes out as msg 6 events on signaling and as media on each
 * active media socket, at the negotiated rates.
 */
import type { Participant } from './meeting';
import { participantClip, screenClip } from './h264';
import { audioPacket, audioPacketOfSegments, FRAME_CYCLE, toneHz, videoFrame, type EncodedFrame } from './media';
import { Codec, EventType, MEDIA_KIND_MSG, MsgType, RESOLUTION_PX, SAMPLE_RATE_HZ, StopReason, type MediaKind } from './protocol';
import type { RtmsConfig } from './rtms';
import { MediaMessageEncoder, type EncodedMessage } from './rtms-media-encoder';
import type { Conn, SendFn, Stream, View } from './rtms-stream';
import { audibleSegments } from './tone-segments';

/** A meeting that ends terminates its stream, which the engine owns. */
export interface MediaPumpHost {
  send: SendFn;
  sendEncoded(c: Conn, msgType: number, json: EncodedMessage, userId?: number): boolean;
  terminate(s: Stream, reason: number): void;
}

type CorkableSocket = { cork?: () => void; uncork?: () => void };

/** How far audio may fall behind the meeting clock before a late tick skips ahead (not for the pre-connect buffer). */
export const AUDIO_MAX_LAG_MS = 5000;
/** Audio packets one socket sends per tick at most (a catch-up or the pre-connect burst goes out in chunks of this). */
export const AUDIO_PACKETS_PER_TICK = 250;

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

  computeView(s: Stream): View {
    const m = s.meeting;
    const t = m.now();
    const present = m.presentAt(t);
    const ids = new Set(present.map((p) => p.userId));
    return { present: ids, camera: new Set(present.filter((p) => m.cameraOn(p, t)).map((p) => p.userId)), sharer: m.sharer(t)?.userId, speaker: m.activeSpeaker(t)?.userId };
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
    const v = this.computeView(s);
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
      const conns = [...s.media.values()].filter((c) => c.active && !c.closing);
      // Event 1 carries the first packet's timestamp: with buffered audio that is the oldest
      // cursor, so the socket furthest behind goes first until event 1 is out.
      if (!s.firstPacketSent) conns.sort((a, b) => oldest(a) - oldest(b));
      for (const c of conns) this.corked(c, () => this.pump(s, c));
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
        // A late tick (busy event loop) catches up at most AUDIO_MAX_LAG_MS; the pre-connect
        // buffer (cur.burst) is sent whole. Either way at most AUDIO_PACKETS_PER_TICK packets
        // a tick, so a 60 s buffer leaves over a dozen ticks instead of blocking the loop.
        if (cur.burst && congested) continue; // hold the burst (not drop it) while the socket is backed up
        if (!cur.burst && now - cur.next > AUDIO_MAX_LAG_MS) cur.next = now - AUDIO_MAX_LAG_MS;
        let n = 0;
        while (cur.next + sendRate <= now && n++ < AUDIO_PACKETS_PER_TICK) {
          const t = cur.next;
          cur.next += sendRate;
          const start = Math.round((t * rate) / 1000);
          const count = Math.round((rate * sendRate) / 1000);
          const segments = audibleSegments(m.participants, start, count, rate);
          const mulaw = Number(p.codec) === Codec.G711;
          const packet = (heard: (x: Participant) => boolean) =>
            segments.length === 1
              ? audioPacket(segments[0].heard.filter(heard).map((x) => toneHz(x.slot)), rate, start, count, ch, mulaw)
              : audioPacketOfSegments(segments.map((g) => ({ freqs: g.heard.filter(heard).map((x) => toneHz(x.slot)), startSample: g.startSample, count: g.count })), rate, ch, mulaw);
          const heardInPacket = segments.length === 1 ? segments[0].heard : [...new Set(segments.flatMap((g) => g.heard))];
          if (!heardInPacket.length) continue;
          if (Number(p.data_opt) === 1) {
            const a = packet(() => true);
            this.media(s, c, 'audio', { user_id: 0, data: a.base64, length: a.length, timestamp: m.epoch(t) }, 0);
          } else {
            for (const x of heardInPacket) {
              const a = packet((y) => y === x);
              this.media(s, c, 'audio', { user_id: x.userId, user_name: x.name, data: a.base64, length: a.length, timestamp: m.epoch(t) }, x.userId);
            }
          }
        }
        if (cur.burst && now - cur.next <= AUDIO_MAX_LAG_MS) cur.burst = false;
      } else if (kind === 'video' || kind === 'deskshare') {
        const interval = 1000 / Number(p.fps);
        if (now - cur.next > 1000) cur.next = now; // video is not buffered: skip, don't burst
        const codec = Number(p.codec);
        while (cur.next <= now) {
          const t = cur.next;
          cur.next += interval;
          if (congested) continue;
          // Decide on the integer ms the frame is stamped with, so "timestamp ≥ T" and "script time ≥ T" agree.
          const ts = m.epoch(t);
          const tq = ts - m.createdAt;
          const users = kind === 'video' ? this.videoUsers(s, Number(p.data_opt), tq) : [m.sharer(tq)].filter((x): x is Participant => !!x);
          const frames = codec === Codec.H264 ? this.h264Frames(s, c, kind, tq, interval, users) : this.stillFrames(kind, codec, Number(p.resolution), tq, users);
          users.forEach((u, i) => this.media(s, c, kind, { user_id: u.userId, user_name: u.name, data: frames[i].base64, length: frames[i].length, timestamp: ts }, u.userId));
        }
      } else if (kind === 'transcript') {
        const from = cur.next;
        cur.next = now;
        // A late tick can cover several lines: send them in the order they ended, as Zoom does.
        for (const { participant: x, line, end } of m.speechEndedIn(from, now)) {
          const lang = line.language ?? (typeof p.src_language === 'number' && p.src_language >= 0 ? p.src_language : 9);
          this.media(s, c, 'transcript', { user_id: x.userId, user_name: x.name, start_time: m.epoch(line.atMs), end_time: m.epoch(end), timestamp: m.epoch(end), language: lang, attribute: 1, data: line.text }, x.userId);
        }
      } else if (kind === 'chat') {
        const from = cur.next;
        cur.next = now;
        for (const { participant: x, line } of m.chatIn(from, now)) this.media(s, c, 'chat', chatContent(x, line, m.epoch(line.atMs)), x.userId);
      }
    }
  }

  /**
   * Encodes the JPEG/PNG frames a new media socket will send (each camera's and each
   * sharer's screen, every cycle step, at its size) one at a time off the handshake's path. A frame
   * is encoded once per process, but jpeg-js takes 30-70 ms for each: met first mid-meeting,
   * the encodes stalled the pump and were most of what a load test measured as the
   * simulator's cost while speakers took their first turns.
   */
  prewarm(s: Stream, c: Conn): void {
    const todo: Array<() => void> = [];
    for (const kind of ['video', 'deskshare'] as const) {
      const p = c.params[kind];
      if (!c.kinds.includes(kind) || !p || Number(p.codec) === Codec.H264) continue;
      // Only who the script can put on screen: a camera that is ever on, a participant who shares.
      const users = s.meeting.participants.filter((x) => (kind === 'video' ? x.camera !== false || (x.cameraSchedule ?? []).some((e) => e.on) : (x.shares?.length ?? 0) > 0));
      if (users.length === 0) continue;
      // One frame per turn: at scale 1 a frame takes ~240 ms, and a turn per camera would block for seconds.
      for (const user of users) for (let step = 0; step < FRAME_CYCLE; step++) todo.push(() => this.stillFrames(kind, Number(p.codec), Number(p.resolution), step * 500, [user]));
    }
    const next = () => {
      const job = todo.shift();
      if (!job) return;
      job();
      setImmediate(next);
    };
    setImmediate(next);
  }

  /** JPEG/PNG: the participant's (or screen's) picture of the 500 ms cycle step, at the negotiated size. */
  private stillFrames(kind: MediaKind, codec: number, resolution: number, t: number, users: Participant[]): EncodedFrame[] {
    const px = RESOLUTION_PX[resolution] ?? RESOLUTION_PX[2];
    const size = { width: Math.max(16, Math.round(px.width * this.cfg.videoScale)), height: Math.max(16, Math.round(px.height * this.cfg.videoScale)) };
    const idx = Math.floor(t / 500) % FRAME_CYCLE;
    return users.map((u) => videoFrame(u.slot, idx, size, codec, kind === 'deskshare', this.cfg.videoGrain && kind === 'video'));
  }

  /** H.264: the next access unit of each user's loop, as h264-sequence.ts rules (IDR on switch, in order while on screen). */
  private h264Frames(s: Stream, c: Conn, kind: 'video' | 'deskshare', t: number, interval: number, users: Participant[]): EncodedFrame[] {
    const clips = users.map((u) => (kind === 'deskshare' ? screenClip() : participantClip(u.slot)));
    const units = s.h264[kind].frame(t, c.id, interval, users.map((u, i) => ({ userId: u.userId, units: clips[i].units.length })));
    return units.map((n, i) => clips[i].units[n]);
  }

  /** Who is on the video stream at script time `t`: data_opt 4 the subscribed user, 5 every camera, 3 the active speaker (else the first camera). */
  private videoUsers(s: Stream, dataOpt: number, t: number): Participant[] {
    const m = s.meeting;
    const cams = m.presentAt(t).filter((p) => m.cameraOn(p, t));
    if (dataOpt === 4) return cams.filter((p) => p.userId === s.videoSubscription);
    if (dataOpt === 5) return cams;
    const speaker = m.activeSpeaker(t);
    return speaker && cams.includes(speaker) ? [speaker] : cams.slice(0, 1);
  }
}

/** The oldest script time any of a socket's cursors is due at. */
function oldest(c: Conn): number {
  return Math.min(...Object.values(c.cursors).map((x) => x?.next ?? Infinity));
}

/**
 * A chat message as newer RTMS servers send it (rtms-protocol.md §3): `content.data` is a
 * JSON object carrying the text, the sender and the message ids; `content` itself names
 * no user. The message id is stable for a line, so a line sent again after a reconnect is
 * the same message.
 */
function chatContent(sender: Participant, line: { atMs: number; text: string }, timestamp: number): Record<string, unknown> {
  const data = {
    chat_session: 'meeting',
    operation_type: 1,
    message_id: `sim-${sender.userId}-${line.atMs}`,
    parent_message_id: null,
    sender: { user_id: sender.userId, user_name: sender.name },
    receiver: null,
    files: [],
    delete_file_id_list: [],
    data: line.text,
  };
  return { timestamp, data: JSON.stringify(data) };
}
