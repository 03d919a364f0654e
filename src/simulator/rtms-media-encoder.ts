/**
 * Pre-encoded media messages, so the simulator can act as a load generator without being what
 * a benchmark measures. A media message (msg 14–16) is the same JSON on every send except its
 * timestamp: the user, the name and the payload repeat (audio packets repeat per phase of their
 * tone, video frames per cycle index; see media.ts). So the message is serialised once per
 * (payload, user) into a template that ends just before the timestamp's digits; each send copies
 * the template and writes the 13 digits of the epoch-ms timestamp and the closing braces. The
 * bytes are exactly JSON.stringify's (rtms-protocol.md: one JSON text message per frame); anything
 * that does not fit the template (other fields, another key order, a timestamp that is not a
 * 13-digit integer, a small payload) is stringified as before.
 */

/** What a media message is sent as: a UTF-8 JSON text, already encoded or still a string. */
export type EncodedMessage = Buffer | string;

/** Key orders the pump builds media content with (timestamp last, so the digits end the JSON). */
const SHAPES: ReadonlyArray<readonly string[]> = [
  ['user_id', 'user_name', 'data', 'length', 'timestamp'],
  ['user_id', 'data', 'length', 'timestamp'],
];
/** Payloads shorter than this are cheap to stringify and not worth a cache entry (transcript, chat). */
const MIN_DATA_CHARS = 64;
const MAX_TEMPLATES = 50_000;
const TS_DIGITS = 13;
const TAIL = Buffer.from('}}');

interface Template {
  msgType: number;
  userName: unknown;
  length: unknown;
  hasName: boolean;
  /** `{"msg_type":…,"content":{…,"timestamp":` as UTF-8. */
  head: Buffer;
}

function shapeOf(content: Record<string, unknown>): 0 | 1 | -1 {
  for (let s = 0; s < SHAPES.length; s++) {
    const keys = SHAPES[s];
    let i = 0;
    let ok = true;
    for (const k in content) {
      if (keys[i++] !== k) {
        ok = false;
        break;
      }
    }
    if (ok && i === keys.length) return s as 0 | 1;
  }
  return -1;
}

const isEpochMs = (ts: unknown): ts is number => typeof ts === 'number' && Number.isInteger(ts) && ts >= 1e12 && ts < 1e13;

export class MediaMessageEncoder {
  /** payload (the base64 string, shared by every send of that packet or frame) → user_id → templates. */
  private readonly templates = new Map<string, Map<unknown, Template[]>>();
  private count = 0;

  /** The wire form of `{ msg_type, content }`: byte-identical to JSON.stringify of it. */
  encode(msgType: number, content: Record<string, unknown>): EncodedMessage {
    const data = content.data;
    const ts = content.timestamp;
    if (typeof data !== 'string' || data.length < MIN_DATA_CHARS || !isEpochMs(ts)) return JSON.stringify({ msg_type: msgType, content });
    const shape = shapeOf(content);
    if (shape < 0) return JSON.stringify({ msg_type: msgType, content });
    const t = this.template(msgType, content, data, shape === 0);
    return withTimestamp(t.head, ts);
  }

  private template(msgType: number, content: Record<string, unknown>, data: string, hasName: boolean): Template {
    let byUser = this.templates.get(data);
    if (!byUser) {
      byUser = new Map();
      this.templates.set(data, byUser);
    }
    let list = byUser.get(content.user_id);
    if (!list) {
      list = [];
      byUser.set(content.user_id, list);
    }
    for (const t of list) if (t.msgType === msgType && t.hasName === hasName && t.userName === content.user_name && t.length === content.length) return t;
    if (this.count >= MAX_TEMPLATES) {
      this.templates.clear();
      this.count = 0;
      return this.template(msgType, content, data, hasName);
    }
    const json = JSON.stringify({ msg_type: msgType, content: { ...content, timestamp: 0 } });
    const t: Template = { msgType, userName: content.user_name, length: content.length, hasName, head: Buffer.from(json.slice(0, -'0}}'.length), 'utf8') };
    list.push(t);
    this.count++;
    return t;
  }
}

/** head + the 13 digits of `ts` + `}}`, in a fresh buffer (ws keeps a reference until it is written). */
function withTimestamp(head: Buffer, ts: number): Buffer {
  const out = Buffer.allocUnsafe(head.length + TS_DIGITS + TAIL.length);
  head.copy(out, 0);
  let v = ts;
  for (let i = head.length + TS_DIGITS - 1; i >= head.length; i--) {
    out[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  TAIL.copy(out, head.length + TS_DIGITS);
  return out;
}
