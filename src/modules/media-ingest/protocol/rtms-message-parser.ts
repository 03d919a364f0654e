import { RawData } from 'ws';
import { MediaItem } from '../../../jobs/job-payloads';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { isRecord } from '../../../common/types/is-record';

/** A decoded RTMS message: `msg_type` plus the rest of the JSON object. */
export interface RtmsMessage {
  msg_type: number;
  [key: string]: unknown;
}

export type ParseFailure = 'oversized' | 'bad_json' | 'not_an_object' | 'no_msg_type';

export type ParseResult = { ok: true; message: RtmsMessage; bytes: number } | { ok: false; reason: ParseFailure; bytes: number };

/** Bytes of a ws frame (text or binary; fragmented frames arrive as Buffer[]). */
export function frameBytes(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function frameText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/**
 * Parses one frame. Zoom sends JSON in text frames and sometimes in binary frames
 * (rtms-protocol.md pitfall 6), so both are decoded the same way.
 */
export function parseRtmsFrame(data: RawData, maxBytes: number): ParseResult {
  const bytes = frameBytes(data);
  if (bytes > maxBytes) return { ok: false, reason: 'oversized', bytes };
  let value: unknown;
  try {
    value = JSON.parse(frameText(data));
  } catch {
    return { ok: false, reason: 'bad_json', bytes };
  }
  if (!isRecord(value)) return { ok: false, reason: 'not_an_object', bytes };
  const msgType = value.msg_type;
  if (typeof msgType !== 'number' || !Number.isInteger(msgType)) return { ok: false, reason: 'no_msg_type', bytes };
  return { ok: true, message: value as RtmsMessage, bytes };
}

export const MEDIA_MESSAGE_TYPES: ReadonlySet<number> = new Set([
  RtmsMessageType.MediaDataAudio,
  RtmsMessageType.MediaDataVideo,
  RtmsMessageType.MediaDataShare,
  RtmsMessageType.MediaDataTranscript,
  RtmsMessageType.MediaDataChat,
]);

export const MEDIA_TYPE_LABEL: Record<number, string> = {
  [RtmsMessageType.MediaDataAudio]: 'audio',
  [RtmsMessageType.MediaDataVideo]: 'video',
  [RtmsMessageType.MediaDataShare]: 'deskshare',
  [RtmsMessageType.MediaDataTranscript]: 'transcript',
  [RtmsMessageType.MediaDataChat]: 'chat',
};

export type MediaRejection = 'missing_content' | 'missing_data' | 'bad_user_id' | 'bad_timestamp' | 'bad_base64';

/** `bytes`: the decoded payload of audio, video and share (data stays base64 in the item). */
/** A valid media message: its pipeline item, the decoded payload (audio, video, share) and whether `length` disagreed with it. */
export interface ParsedMedia {
  item: MediaItem;
  lengthMismatch: boolean;
  bytes?: Buffer;
}

export type MediaParseResult = ({ ok: true } & ParsedMedia) | { ok: false; reason: MediaRejection };

/**
 * Decodes standard base64, or null if `data` is not exactly that. Node's decoder skips
 * characters outside the alphabet and stops at padding, so any such character makes the
 * output shorter than the length implies; the URL-safe letters it would also accept are
 * refused explicitly. One pass instead of a regular expression and then a decode: this
 * runs for every audio packet. `into`: where small payloads are decoded (AudioSlab).
 */
export function decodeBase64(data: string, into?: AudioSlab): Buffer | null {
  if (data.length % 4 !== 0 || data.includes('-') || data.includes('_')) return null;
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  const expected = (data.length / 4) * 3 - padding;
  if (into && expected <= AudioSlab.MAX_PAYLOAD) return into.decode(data, expected);
  const bytes = Buffer.from(data, 'base64');
  return bytes.length === expected ? bytes : null;
}

/**
 * Audio packets decoded back to back into one large buffer. Each packet is a few hundred
 * bytes, and Buffer.from() puts them in 8 KB pools: one new pool (an ArrayBuffer for V8
 * to track) every dozen packets, thousands a second. A packet lives only until the spool's
 * next flush copies it into its part (≈ 100 ms), so a slab is not pinned for long.
 * Only audio goes here: video may be held for a whole H.264 segment.
 */
export class AudioSlab {
  static readonly SIZE = 256 * 1024;
  static readonly MAX_PAYLOAD = 16 * 1024;
  private slab = Buffer.allocUnsafe(AudioSlab.SIZE);
  private used = 0;

  /** Decodes `data` (expected to yield `expected` bytes); null when it yields fewer (not valid base64). */
  decode(data: string, expected: number): Buffer | null {
    if (this.used + expected > AudioSlab.SIZE) {
      this.slab = Buffer.allocUnsafe(AudioSlab.SIZE);
      this.used = 0;
    }
    const written = this.slab.write(data, this.used, expected, 'base64');
    if (written !== expected) return null;
    const out = this.slab.subarray(this.used, this.used + expected);
    this.used += expected;
    return out;
  }
}

/** The process's audio slab (the stream workers' event loop is single-threaded). */
const audioSlab = new AudioSlab();

/** A media payload decoded (audio into the process's slab), or null if it is not standard base64. */
export function decodeMediaPayload(msgType: number, data: string): Buffer | null {
  return decodeBase64(data, msgType === RtmsMessageType.MediaDataAudio ? audioSlab : undefined);
}

export function toInt(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

/**
 * Media timestamps (Zoom ms since the epoch) are taken in [0, 2^47): up to the year 6429.
 * The bound is what every place a timestamp goes accepts with room to spare: a JS Date
 * (±8.64e15), Postgres timestamptz (to 294276 AD) and bigint, and exact integer arithmetic
 * (segment windows, `ts + segment_ms`, well under 2^53). One value outside it (1e19, a
 * negative one) used to go through and fail every statement it was part of: a segment row,
 * a flush of the whole process's audio, an artifact batch.
 */
export const MEDIA_TS_LIMIT_MS = 2 ** 47;

/** Whether `ts` is a media timestamp the hub stores (an integer in [0, MEDIA_TS_LIMIT_MS)). */
export function isMediaTimestamp(ts: number): boolean {
  return Number.isSafeInteger(ts) && ts >= 0 && ts < MEDIA_TS_LIMIT_MS;
}

/** A message's media timestamp, or undefined when it is not one (the message is refused as `bad_timestamp`). */
export function toMediaTimestamp(v: unknown): number | undefined {
  const ts = toInt(v);
  return ts !== undefined && isMediaTimestamp(ts) ? ts : undefined;
}

type Meta = NonNullable<MediaItem['meta']>;

function scalarMeta(content: Record<string, unknown>, keys: readonly string[]): Meta | undefined {
  const meta: Meta = {};
  for (const k of keys) {
    const v = content[k];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) meta[k] = v;
  }
  return Object.keys(meta).length > 0 ? meta : undefined;
}

const META_KEYS: Record<number, readonly string[]> = {
  [RtmsMessageType.MediaDataAudio]: ['length', 'channel_id'],
  [RtmsMessageType.MediaDataVideo]: ['length', 'channel_id'],
  [RtmsMessageType.MediaDataShare]: ['length', 'channel_id'],
  [RtmsMessageType.MediaDataTranscript]: ['start_time', 'end_time', 'language', 'attribute'],
  [RtmsMessageType.MediaDataChat]: ['message_id', 'parent_message_id', 'chat_session', 'operation_type'],
};

/** The sender's id, or undefined when none is given; null when one is given but is not an id. */
function senderId(...candidates: unknown[]): number | null | undefined {
  const given = candidates.find((v) => v !== undefined && v !== null);
  if (given === undefined) return undefined;
  return toInt(given) ?? null;
}

/**
 * Chat (msg 18) comes in two shapes (rtms-protocol.md §3): older servers send the text in
 * `content.data`; newer ones send a JSON object there, with the text in its `data` and
 * the sender in `sender{user_id,user_name}` — not at the top of `content`. Zoom's own
 * library reads the sender first and falls back to `content.user_id`, and so does this.
 * A message nobody is named for gets user 0: an unattributed message, which a capture
 * policy with user lists does not let through (CaptureAdmission).
 */
function toChatItem(c: Record<string, unknown>, data: string, receivedAt: number): MediaParseResult {
  const timestamp = toMediaTimestamp(c.timestamp);
  if (timestamp === undefined) return { ok: false, reason: 'bad_timestamp' };
  const payload = parseChatPayload(data);
  const sender = payload && isRecord(payload.sender) ? payload.sender : {};
  const id = senderId(sender.user_id, sender.userId, payload?.user_id, c.user_id);
  if (id === null) return { ok: false, reason: 'bad_user_id' };
  const item: MediaItem = { msgType: RtmsMessageType.MediaDataChat, userId: id ?? 0, timestamp, data: payload ? chatText(payload.data) : data, receivedAt };
  const name = [sender.user_name, sender.userName, payload?.user_name, c.user_name].find((v) => typeof v === 'string');
  if (typeof name === 'string') item.userName = name;
  const meta = { ...scalarMeta(c, META_KEYS[RtmsMessageType.MediaDataChat]), ...(payload ? scalarMeta(payload, META_KEYS[RtmsMessageType.MediaDataChat]) : undefined) };
  // A direct message names its receiver: kept, as who a private message went to is part of it.
  const receiver = payload && isRecord(payload.receiver) ? toInt(payload.receiver.user_id) : undefined;
  if (receiver !== undefined) meta.receiver_user_id = receiver;
  if (Object.keys(meta).length > 0) item.meta = meta;
  return { ok: true, item, lengthMismatch: false };
}

/** The newer chat payload (a JSON object in `content.data`), or undefined for plain text. */
function parseChatPayload(data: string): Record<string, unknown> | undefined {
  if (!data.trimStart().startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(data);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined; // text that only looks like JSON
  }
}

/** The message's text (none for a deletion or an emoji reaction). */
function chatText(v: unknown): string {
  if (typeof v === 'string') return v;
  return v === undefined || v === null ? '' : JSON.stringify(v);
}

/**
 * Validates a media message (14–18) and turns it into a pipeline item, data kept as
 * received (base64 for 14–16, text for 17–18). Mixed audio has user_id 0 and no name.
 */
export function toMediaItem(message: RtmsMessage, receivedAt: number): MediaParseResult {
  const c = message.content;
  if (!isRecord(c)) return { ok: false, reason: 'missing_content' };
  if (typeof c.data !== 'string') return { ok: false, reason: 'missing_data' };
  if (message.msg_type === RtmsMessageType.MediaDataChat) return toChatItem(c, c.data, receivedAt);
  const binary = message.msg_type <= RtmsMessageType.MediaDataShare;
  const userId = c.user_id === undefined && !binary ? 0 : toInt(c.user_id);
  if (userId === undefined) return { ok: false, reason: 'bad_user_id' };
  const timestamp = toMediaTimestamp(c.timestamp);
  if (timestamp === undefined) return { ok: false, reason: 'bad_timestamp' };
  let lengthMismatch = false;
  let bytes: Buffer | undefined;
  if (binary) {
    bytes = decodeMediaPayload(message.msg_type, c.data) ?? undefined;
    if (!bytes) return { ok: false, reason: 'bad_base64' };
    const length = toInt(c.length);
    if (length !== undefined) lengthMismatch = bytes.length !== length;
  }
  const item: MediaItem = {
    msgType: message.msg_type,
    userId,
    timestamp,
    data: c.data,
    receivedAt,
  };
  if (typeof c.user_name === 'string') item.userName = c.user_name;
  const meta = scalarMeta(c, META_KEYS[message.msg_type] ?? []);
  if (meta) item.meta = meta;
  return { ok: true, item, lengthMismatch, bytes };
}
