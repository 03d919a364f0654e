import type { MediaItem } from '../../../jobs/job-payloads';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { decodeMediaPayload, isMediaTimestamp, ParsedMedia, toInt } from './rtms-message-parser';

/** What the fast path yields: the same as `toMediaItem` for a well-formed audio, video or share message. */
export interface FastMediaFrame extends ParsedMedia {
  bytes: Buffer;
}

type Scalar = string | number | boolean | null;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** The only keys the fast path knows; any other key sends the frame down the general path. */
const enum Key {
  MsgType = 1,
  Content = 2,
  UserId = 4,
  UserName = 8,
  Data = 16,
  Length = 32,
  Timestamp = 64,
  ChannelId = 128,
}
const KEY_IDS: readonly Key[] = [Key.MsgType, Key.Content, Key.UserId, Key.UserName, Key.Data, Key.Length, Key.Timestamp, Key.ChannelId];
const KEY_NAMES: readonly Buffer[] = ['msg_type', 'content', 'user_id', 'user_name', 'data', 'length', 'timestamp', 'channel_id'].map((k) => Buffer.from(k));
const MAX_KEY_LENGTH = Math.max(...KEY_NAMES.map((k) => k.length));

/** Thrown inside the scan to leave it: the frame is not one the fast path takes. */
const NOT_FAST = Symbol('not-fast');

/**
 * The hot path for media sockets: an audio, video or share message (msg 14–16) read
 * straight from the frame's bytes, without JSON.parse building a string of the whole frame
 * and an object tree that is thrown away at once. It takes only the exact shape Zoom sends
 * (`{"msg_type":14,"content":{"user_id",…,"data":"<base64>","timestamp"}}`, keys in any
 * order, JSON whitespace allowed) and returns null for anything else — another message
 * type, an unknown or repeated key, a value of an unexpected type, malformed JSON, base64
 * that does not decode — so the general path (parseRtmsFrame + toMediaItem) decides those,
 * with its own failure reasons. What it returns is what the general path would have
 * (media-frame-fast-path.spec.ts checks the two against each other).
 */
export function parseMediaFrameFast(frame: Buffer, receivedAt: number): FastMediaFrame | null {
  try {
    return new FrameScan(frame).media(receivedAt);
  } catch (err) {
    if (err === NOT_FAST) return null;
    throw err;
  }
}

class FrameScan {
  private i = 0;

  constructor(private readonly b: Buffer) {}

  media(receivedAt: number): FastMediaFrame | null {
    let msgType = -1;
    let seen = 0;
    let userId: number | undefined;
    let userName: Scalar | undefined;
    let dataStart = -1;
    let dataEnd = -1;
    let length: Scalar | undefined;
    let timestamp: number | undefined;
    let channelId: Scalar | undefined;

    this.open();
    do {
      const key = this.key();
      if (seen & key) throw NOT_FAST;
      seen |= key;
      if (key === Key.MsgType) {
        msgType = this.number();
        // Keep-alives and events are not this path's: leave as soon as the type says so.
        if (msgType !== RtmsMessageType.MediaDataAudio && msgType !== RtmsMessageType.MediaDataVideo && msgType !== RtmsMessageType.MediaDataShare) throw NOT_FAST;
      } else if (key === Key.Content) {
        let inner = 0;
        this.open();
        do {
          const k = this.key();
          if (inner & k) throw NOT_FAST;
          inner |= k;
          switch (k) {
            case Key.UserId:
              userId = this.number();
              break;
            case Key.UserName:
              userName = this.scalar();
              if (userName !== null && typeof userName !== 'string') throw NOT_FAST;
              break;
            case Key.Data:
              dataStart = this.base64Start();
              dataEnd = this.i - 1;
              break;
            case Key.Length:
              length = this.scalar();
              break;
            case Key.Timestamp:
              timestamp = this.number();
              break;
            case Key.ChannelId:
              channelId = this.scalar();
              break;
            default:
              throw NOT_FAST;
          }
        } while (this.next());
      } else throw NOT_FAST;
    } while (this.next());
    this.end();

    if (msgType < 0 || dataStart < 0 || userId === undefined || timestamp === undefined) return null;
    // A timestamp out of range (1e19, negative) is the general path's to refuse, as bad_timestamp.
    if (!isMediaTimestamp(Math.trunc(timestamp))) return null;
    const data = this.b.toString('latin1', dataStart, dataEnd);
    const bytes = decodeMediaPayload(msgType, data);
    if (!bytes) return null;
    const item: MediaItem = { msgType, userId: Math.trunc(userId), timestamp: Math.trunc(timestamp), data, receivedAt };
    if (typeof userName === 'string') item.userName = userName;
    // The same keys, in the same order, as toMediaItem's scalarMeta.
    if (length !== undefined || channelId !== undefined) {
      const meta: NonNullable<MediaItem['meta']> = {};
      if (length !== undefined) meta.length = length;
      if (channelId !== undefined) meta.channel_id = channelId;
      item.meta = meta;
    }
    const declared = toInt(length);
    return { item, bytes, lengthMismatch: declared !== undefined && declared !== bytes.length };
  }

  private ws(): void {
    const b = this.b;
    let i = this.i;
    while (i < b.length) {
      const c = b[i];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    this.i = i;
  }

  private expect(byte: number): void {
    this.ws();
    if (this.b[this.i] !== byte) throw NOT_FAST;
    this.i++;
  }

  private open(): void {
    this.expect(OPEN_BRACE);
  }

  /** After a member: true if another follows (`,`), false at the object's `}`. */
  private next(): boolean {
    this.ws();
    const c = this.b[this.i++];
    if (c === COMMA) return true;
    if (c === CLOSE_BRACE) return false;
    throw NOT_FAST;
  }

  private end(): void {
    this.ws();
    if (this.i !== this.b.length) throw NOT_FAST;
  }

  /** A member's key and its colon; only the known keys, written without escapes. */
  private key(): Key {
    this.expect(QUOTE);
    const b = this.b;
    const start = this.i;
    // The keys are short: compare as the bytes go by rather than search for the quote first.
    let i = start;
    while (i < b.length && b[i] !== QUOTE && i - start <= MAX_KEY_LENGTH) i++;
    if (b[i] !== QUOTE) throw NOT_FAST;
    const len = i - start;
    let found: Key | 0 = 0;
    for (let k = 0; k < KEY_NAMES.length && !found; k++) {
      const name = KEY_NAMES[k];
      if (name.length !== len || name[0] !== b[start]) continue;
      let j = 1;
      while (j < len && b[start + j] === name[j]) j++;
      if (j === len) found = KEY_IDS[k];
    }
    if (!found) throw NOT_FAST;
    this.i = i + 1;
    this.expect(COLON);
    return found;
  }

  private number(): number {
    this.ws();
    const b = this.b;
    const start = this.i;
    // The usual case, a plain integer of up to 15 digits, without building a string.
    let i = start;
    let value = 0;
    while (i < b.length && b[i] >= 0x30 && b[i] <= 0x39 && i - start < 15) value = value * 10 + (b[i++] - 0x30);
    const after = b[i];
    const plain = i > start && !(b[start] === 0x30 && i - start > 1);
    if (plain && !(after >= 0x30 && after <= 0x39) && after !== 0x2e && after !== 0x45 && after !== 0x65) {
      this.i = i;
      return value;
    }
    i = start;
    while (i < b.length) {
      const c = b[i];
      // digits, '+', '-', '.', 'e', 'E'; the grammar is checked on the slice
      if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e || c === 0x45 || c === 0x65) i++;
      else break;
    }
    const text = b.toString('latin1', start, i);
    if (!JSON_NUMBER.test(text)) throw NOT_FAST;
    const n = Number(text);
    if (!Number.isFinite(n)) throw NOT_FAST;
    this.i = i;
    return n;
  }

  /** A short string, number, true, false or null. */
  private scalar(): Scalar {
    this.ws();
    const c = this.b[this.i];
    if (c === QUOTE) return this.string();
    if (this.literal('true')) return true;
    if (this.literal('false')) return false;
    if (this.literal('null')) return null;
    return this.number();
  }

  private literal(word: string): boolean {
    const b = this.b;
    for (let j = 0; j < word.length; j++) if (b[this.i + j] !== word.charCodeAt(j)) return false;
    this.i += word.length;
    return true;
  }

  /** A JSON string; escapes are resolved by JSON.parse of the string alone (names are short). */
  private string(): string {
    const b = this.b;
    const start = this.i; // at the opening quote
    let i = start + 1;
    let escaped = false;
    for (;;) {
      if (i >= b.length) throw NOT_FAST;
      const c = b[i];
      if (c === QUOTE) break;
      if (c < 0x20) throw NOT_FAST;
      if (c === BACKSLASH) {
        escaped = true;
        i += 2;
      } else i++;
    }
    this.i = i + 1;
    if (!escaped) return b.toString('utf8', start + 1, i);
    try {
      return JSON.parse(b.toString('utf8', start, i + 1)) as string;
    } catch {
      throw NOT_FAST;
    }
  }

  /**
   * Where the base64 payload starts (after its quote; the scan moves past the closing one).
   * Base64 has no quote, backslash or control character, so the first quote ends it;
   * anything else that is not base64 makes the decode come out short, and the frame then
   * goes down the general path.
   */
  private base64Start(): number {
    this.expect(QUOTE);
    const start = this.i;
    const close = this.b.indexOf(QUOTE, start);
    if (close < 0) throw NOT_FAST;
    this.i = close + 1;
    return start;
  }
}
