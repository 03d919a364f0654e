/**
 * The live fan-out's shared contract: what stream workers (and the app-event fan-out)
 * write to Redis, and what API processes read from it and send to app clients. Both
 * sides import this file only; docs/live.md documents the client-facing half.
 *
 * Text (events, transcript, chat) goes to one Redis Stream per session: its entry ids
 * are the session's ONE id sequence (monotonic, resumable inside the window). Media
 * (audio, video, deskshare) goes to a pub/sub channel per session, and only while the
 * subscription registry says that some API process has a client for it.
 */

/** What a client can subscribe to. */
export const LIVE_TEXT_MEDIA = ['events', 'transcript', 'chat'] as const;
export const LIVE_BINARY_MEDIA = ['audio', 'video', 'deskshare'] as const;
export type LiveTextMedia = (typeof LIVE_TEXT_MEDIA)[number];
export type LiveBinaryMedia = (typeof LIVE_BINARY_MEDIA)[number];
export type LiveMedia = LiveTextMedia | LiveBinaryMedia;
export const LIVE_MEDIA: readonly LiveMedia[] = [...LIVE_TEXT_MEDIA, ...LIVE_BINARY_MEDIA];

export function isLiveMedia(v: unknown): v is LiveMedia {
  return typeof v === 'string' && (LIVE_MEDIA as readonly string[]).includes(v);
}
export function isTextMedia(v: LiveMedia): v is LiveTextMedia {
  return (LIVE_TEXT_MEDIA as readonly string[]).includes(v);
}

/** The `type` of a text message a client receives for each text media. */
export const TEXT_MESSAGE_TYPE: Record<LiveTextMedia, 'event' | 'transcript' | 'chat'> = { events: 'event', transcript: 'transcript', chat: 'chat' };

// ───────────── Redis keys ─────────────

/**
 * Every live key, under the deployment's queue prefix (QUEUE_PREFIX) so that several
 * hubs (or test runs) can share one Redis.
 */
export function liveKeys(prefix: string) {
  const p = `${prefix}:live`;
  return {
    /** Redis Stream: the session's text log. Entry fields: `m` = JSON of LiveTextEntry. */
    textLog: (sessionId: string) => `${p}:log:${sessionId}`,
    /** ZSET member sessionId, score = ms of its latest text: what `all` subscribers read. */
    activeSessions: `${p}:active`,
    /** Pub/sub: a session id, published when a process first writes text for it (an `all` subscriber starts reading it at once). */
    announce: `${p}:announce`,
    /**
     * ZSET, the media subscription registry of one session (or ALL_SESSIONS): member
     * `<apiProcessId>|<media csv>` (e.g. `api-1|audio,video`), score = expiry ms. A worker
     * publishes a session's media while an unexpired member names that media.
     */
    mediaWanted: (sessionIdOrAll: string) => `${p}:want:${sessionIdOrAll}`,
    /** Pub/sub: `<sessionId or *>`, published when a registry entry is added or changed (workers re-read at once). */
    mediaWantChanged: `${p}:want-changed`,
    /** Pub/sub: packed binary frames (packFrames) of one session's media. */
    mediaChannel: (sessionId: string) => `${p}:media:${sessionId}`,
    /** PSUBSCRIBE pattern matching every session's media channel (`all` media subscribers). */
    mediaChannelPattern: `${p}:media:*`,
    /** A browser ticket (single use): key = sha256 hex of the ticket. */
    ticket: (ticketSha256: string) => `${p}:ticket:${ticketSha256}`,
    /** Set once an app event was appended to the log (a retried fan-out job does not append it twice). */
    appEventLogged: (eventId: string) => `${p}:logged:${eventId}`,
  };
}
export type LiveKeys = ReturnType<typeof liveKeys>;

/** The registry's name for "every session" (an `all` media subscription). */
export const ALL_SESSIONS = '*';

/** Registry member ↔ (process, media). */
export function registryMember(apiProcessId: string, media: readonly LiveBinaryMedia[]): string {
  return `${apiProcessId}|${[...media].sort().join(',')}`;
}
export function mediaOfRegistryMember(member: string): LiveBinaryMedia[] {
  const bar = member.lastIndexOf('|');
  const csv = bar >= 0 ? member.slice(bar + 1) : '';
  return csv.split(',').filter((m): m is LiveBinaryMedia => (LIVE_BINARY_MEDIA as readonly string[]).includes(m));
}

// ───────────── text log entries ─────────────

/**
 * One text log entry, stored as JSON in field `m`. The client receives it as
 * `{"type": TEXT_MESSAGE_TYPE[media], "sub": <subscription id>, "id": <entry id>,
 * "session_id", "ts", "received_at"?, "data"}` (toClientText).
 */
export interface LiveTextEntry {
  media: LiveTextMedia;
  session_id: string;
  /** Zoom's timestamp of the message (ms), or when the hub decided it (status changes). */
  ts: number;
  /** When the stream worker received it from Zoom (ms; absent for what the hub decided): `now − received_at` is the hub's own delay. */
  received_at?: number;
  data: Record<string, unknown>;
}

/**
 * `data` by media:
 * - transcript: {user_id, user_name, text, language, start_time, end_time, attribute}
 * - chat: {user_id, user_name, text, message_id, parent_message_id, chat_session, operation_type, receiver_user_id}
 * - events: {event, …} with `event` one of LiveEventName
 */
export type LiveEventName =
  | 'participant.joined'
  | 'participant.left'
  | 'active_speaker.changed'
  | 'sharing.started'
  | 'sharing.stopped'
  | 'participant.video_on'
  | 'participant.video_off'
  | 'stream.state_changed'
  | 'session.status_changed'
  | 'recording.ready'
  | 'zoom_room.joined'
  | 'zoom_room.left'
  | 'zoom_room.failed';

export const TEXT_ENTRY_FIELD = 'm';

/** A session's log outlives its last entry by the window plus this, then Redis deletes it. */
export const LOG_EXPIRY_GRACE_MS = 60_000;

/** XADD arguments that keep the log inside its window: entries older than `windowMs` go (approximate trim, cheap). */
export function trimArgs(nowMs: number, windowMs: number): ['MINID', '~', string] {
  return ['MINID', '~', `${Math.max(0, nowMs - windowMs)}-0`];
}

/** The client's JSON for a log entry (built once per entry and subscription). */
export function toClientText(sub: string, id: string, entry: LiveTextEntry): string {
  return JSON.stringify({ type: TEXT_MESSAGE_TYPE[entry.media], sub, id, session_id: entry.session_id, ts: entry.ts, received_at: entry.received_at, data: entry.data });
}

/** Compares two Redis Stream ids (`<ms>-<seq>`): negative, 0 or positive. */
export function compareEntryIds(a: string, b: string): number {
  const [am, as] = splitId(a);
  const [bm, bs] = splitId(b);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

/** A well-formed Redis Stream id (`<ms>` or `<ms>-<seq>`), as a client may send in resume_from / Last-Event-ID. */
export function isEntryId(v: unknown): v is string {
  return typeof v === 'string' && /^\d{1,16}(-\d{1,16})?$/.test(v);
}

function splitId(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  return dash < 0 ? [BigInt(id), 0n] : [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

// ───────────── binary media frames ─────────────

/** Media kind byte of a frame. */
export const FRAME_MEDIA: Record<LiveBinaryMedia, number> = { audio: 1, video: 2, deskshare: 3 };
export const FRAME_MEDIA_NAME: Record<number, LiveBinaryMedia> = { 1: 'audio', 2: 'video', 3: 'deskshare' };

/** Payload format byte. */
export enum FrameFormat {
  Unknown = 0,
  /** Signed 16-bit little-endian PCM, as Zoom sends it (16 kHz mono unless the session asked otherwise). */
  L16 = 1,
  Jpeg = 2,
  Png = 3,
  /** H.264 Annex-B. */
  H264 = 4,
}

export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 48;

/**
 * A media frame's header (little-endian), then the payload exactly as Zoom sent it:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | u8 | version (1) |
 * | 1 | u8 | media: 1 audio, 2 video, 3 deskshare |
 * | 2 | u16 | header length (48 in version 1): the payload starts here |
 * | 4 | u32 | sequence: per stream, media and participant, +1 per frame published (gaps = frames not sent to you) |
 * | 8 | f64 | Zoom timestamp (ms since the epoch) |
 * | 16 | 16 B | session id (UUID bytes) |
 * | 32 | f64 | participant: Zoom user_id (0 = mixed audio) |
 * | 40 | u8 | payload format: 0 unknown, 1 L16, 2 JPEG, 3 PNG, 4 H.264 |
 * | 41 | 7 B | reserved (0) |
 */
export interface FrameHeader {
  media: LiveBinaryMedia;
  sequence: number;
  timestamp: number;
  sessionId: string;
  userId: number;
  format: FrameFormat;
}

export function encodeFrame(h: FrameHeader, payload: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  buf.fill(0, 0, FRAME_HEADER_BYTES);
  buf.writeUInt8(FRAME_VERSION, 0);
  buf.writeUInt8(FRAME_MEDIA[h.media], 1);
  buf.writeUInt16LE(FRAME_HEADER_BYTES, 2);
  buf.writeUInt32LE(h.sequence >>> 0, 4);
  buf.writeDoubleLE(h.timestamp, 8);
  uuidBytes(h.sessionId).copy(buf, 16);
  buf.writeDoubleLE(h.userId, 32);
  buf.writeUInt8(h.format, 40);
  payload.copy(buf, FRAME_HEADER_BYTES);
  return buf;
}

/** The header of a frame, or null if it is not one. */
export function decodeFrameHeader(frame: Buffer): (FrameHeader & { headerBytes: number }) | null {
  if (frame.length < FRAME_HEADER_BYTES || frame.readUInt8(0) !== FRAME_VERSION) return null;
  const media = FRAME_MEDIA_NAME[frame.readUInt8(1)];
  const headerBytes = frame.readUInt16LE(2);
  if (!media || headerBytes < FRAME_HEADER_BYTES || headerBytes > frame.length) return null;
  return {
    media,
    headerBytes,
    sequence: frame.readUInt32LE(4),
    timestamp: frame.readDoubleLE(8),
    sessionId: uuidString(frame.subarray(16, 32)),
    userId: frame.readDoubleLE(32),
    format: frame.readUInt8(40) as FrameFormat,
  };
}

/** Several frames in one pub/sub message: each preceded by its u32 LE length. */
export function packFrames(frames: readonly Buffer[]): Buffer {
  let total = 0;
  for (const f of frames) total += 4 + f.length;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const f of frames) {
    out.writeUInt32LE(f.length, at);
    f.copy(out, at + 4);
    at += 4 + f.length;
  }
  return out;
}

/** The frames of a packed message (views into it, no copies); stops at a truncated tail. */
export function unpackFrames(packed: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let at = 0;
  while (at + 4 <= packed.length) {
    const len = packed.readUInt32LE(at);
    if (at + 4 + len > packed.length) break;
    frames.push(packed.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return frames;
}

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  return /^[0-9a-fA-F]{32}$/.test(hex) ? Buffer.from(hex, 'hex') : Buffer.alloc(16);
}

function uuidString(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ───────────── WebSocket control messages and close codes ─────────────

/** Close codes the server uses (docs/live.md). */
export enum LiveCloseCode {
  /** The server is shutting down; reconnect (to another API process) and resume. */
  GoingAway = 1001,
  /** The client fell behind: its text backlog passed LIVE_CLIENT_BUFFER_BYTES. Reconnect and resume from the last id received. */
  TooSlow = 4008,
  /** The client did not answer pings. */
  PingTimeout = 4009,
  /** The client sent something that is not a valid control message too often (or a binary frame). */
  ProtocolError = 4400,
  /** The login that opened the connection ended (the console's: signed out or idle past its lifetime). Sign in again. */
  Unauthorized = 4401,
}

/** A client's subscribe request, as sent. */
export interface SubscribeRequest {
  type: 'subscribe';
  /** Client-chosen id, echoed on every text message of this subscription (`sub`). */
  id: string;
  /** Session ids, or 'all'. */
  sessions: string[] | 'all';
  media: LiveMedia[];
  /** Zoom user ids (strings or numbers); absent = everyone. Applies to per-participant media and transcript/chat. */
  participants?: Array<string | number>;
  /** An entry id: every session resumes after it; or a map session id → entry id (sessions not named resume after the smallest id given). */
  resume_from?: string | Record<string, string>;
}
