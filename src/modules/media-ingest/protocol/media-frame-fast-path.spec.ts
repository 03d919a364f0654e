import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { FastMediaFrame, parseMediaFrameFast } from './media-frame-fast-path';
import { MEDIA_MESSAGE_TYPES, parseRtmsFrame, toMediaItem } from './rtms-message-parser';

/** The general path's verdict on a frame: what the fast path must equal whenever it answers. */
function general(frame: Buffer): FastMediaFrame | null {
  const parsed = parseRtmsFrame(frame, 10_000_000);
  if (!parsed.ok || !MEDIA_MESSAGE_TYPES.has(parsed.message.msg_type)) return null;
  const media = toMediaItem(parsed.message, 7);
  if (!media.ok) return null;
  return { item: media.item, bytes: media.bytes!, lengthMismatch: media.lengthMismatch };
}

/** The fast path's answer, checked against the general path's; undefined when it declined. */
function checked(frame: Buffer): FastMediaFrame | undefined {
  const fast = parseMediaFrameFast(frame, 7);
  if (fast === null) return undefined;
  const slow = general(frame);
  expect(slow).not.toBeNull();
  expect(JSON.stringify(fast.item)).toBe(JSON.stringify(slow!.item));
  expect(fast.bytes.equals(slow!.bytes)).toBe(true);
  expect(fast.lengthMismatch).toBe(slow!.lengthMismatch);
  return fast;
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pcm = Buffer.from(Array.from({ length: 640 }, (_, i) => (i * 7) & 0xff));
const audio = { msg_type: 14, content: { user_id: 16778240, user_name: 'Ann', data: pcm.toString('base64'), length: 640, timestamp: 1_764_000_000_123 } };
const frame = (v: unknown, space?: number) => Buffer.from(JSON.stringify(v, null, space));

describe('parseMediaFrameFast', () => {
  it('reads audio, video and share messages exactly as the general path does', () => {
    for (const msgType of [RtmsMessageType.MediaDataAudio, RtmsMessageType.MediaDataVideo, RtmsMessageType.MediaDataShare]) {
      const got = checked(frame({ ...audio, msg_type: msgType }));
      expect(got?.item).toMatchObject({ msgType, userId: 16778240, userName: 'Ann', timestamp: 1_764_000_000_123, receivedAt: 7, meta: { length: 640 } });
      expect(got?.bytes.equals(pcm)).toBe(true);
      expect(got?.lengthMismatch).toBe(false);
    }
  });

  it('takes any key order, JSON whitespace, escaped and non-ASCII names, and the optional fields', () => {
    const c = audio.content;
    const variants: unknown[] = [
      { content: c, msg_type: 14 },
      { msg_type: 14, content: { timestamp: c.timestamp, data: c.data, user_id: c.user_id } },
      { msg_type: 14, content: { ...c, user_name: 'Zoë "Z" \\ Müller \u0007 😀' } },
      { msg_type: 14, content: { ...c, user_name: null } },
      { msg_type: 14, content: { ...c, channel_id: 3 } },
      { msg_type: 14, content: { ...c, channel_id: 'c-1', length: '640' } },
      { msg_type: 14, content: { ...c, length: 641 } },
      { msg_type: 14, content: { user_id: 0, data: c.data, timestamp: c.timestamp } },
      { msg_type: 15, content: { ...c, data: Buffer.alloc(40_000, 0xab).toString('base64'), length: 40_000 } },
      { msg_type: 14, content: { ...c, user_id: 1.5e3, timestamp: 1764000000123.9 } },
    ];
    for (const v of variants) {
      expect(checked(frame(v))).toBeDefined();
      expect(checked(frame(v, 2))).toBeDefined();
    }
    expect(checked(Buffer.from(` \r\n\t{ "msg_type" : 14 ,\n"content":{"user_id":1,"data":"AAAA","timestamp":5} }\n`))?.bytes).toEqual(Buffer.from([0, 0, 0]));
    expect(checked(frame({ msg_type: 14, content: { ...c, length: 641 } }))?.lengthMismatch).toBe(true);
  });

  it('declines everything else, leaving it to the general path', () => {
    const c = audio.content;
    const declined = [
      '{"msg_type":12,"timestamp":5}',
      JSON.stringify({ msg_type: 17, content: { ...c, data: 'hello' } }),
      JSON.stringify({ msg_type: 18, content: { ...c, data: 'hi' } }),
      JSON.stringify({ ...audio, extra: 1 }),
      JSON.stringify({ msg_type: 14, content: { ...c, attribute: 1 } }),
      JSON.stringify({ msg_type: 14, content: { ...c, user_id: '16778240' } }),
      JSON.stringify({ msg_type: 14, content: { ...c, user_name: 5 } }),
      JSON.stringify({ msg_type: 14, content: { ...c, data: 'AA-_' } }),
      JSON.stringify({ msg_type: 14, content: { ...c, data: 'AB==AAAA' } }),
      JSON.stringify({ msg_type: 14, content: { ...c, data: 12 } }),
      JSON.stringify({ msg_type: 14, content: { ...c, length: { n: 1 } } }),
      JSON.stringify({ msg_type: 14, content: { user_id: 1, data: 'AAAA' } }),
      JSON.stringify({ msg_type: 14, content: { user_id: 1, timestamp: 1 } }),
      JSON.stringify({ content: c }),
      JSON.stringify(audio).replace('"data":"', '"data":"\\/'),
      JSON.stringify(audio).replace('"user_id"', '"user\\u005fid"'),
      JSON.stringify(audio).replace('}}', ',"user_id":2}}'),
      JSON.stringify(audio).replace('}}', '},"msg_type":15}'),
      JSON.stringify(audio).replace('}}', ',}}'),
      JSON.stringify(audio) + 'x',
      JSON.stringify(audio).slice(0, -1),
      JSON.stringify(audio).replace('14', '014'),
      JSON.stringify(audio).replace('"Ann"', '"A\tn"'),
      JSON.stringify(audio).replace('"Ann"', '"A\\qn"'),
      '[]',
      '',
    ];
    for (const text of declined) expect(parseMediaFrameFast(Buffer.from(text), 7)).toBeNull();
  });

  it('never disagrees with the general path on mutated frames (seeded fuzz)', () => {
    const rnd = mulberry32(20261201);
    const base = [frame(audio), frame({ ...audio, msg_type: 15 }, 1), frame({ msg_type: 16, content: { ...audio.content, user_name: 'Zoë \\ "x"', channel_id: 'a' } })];
    const alphabet = Buffer.from(' \t\n{}[],:"\\-+.eE0123456789abcnulltruefalseAZaz/=_\u00e9');
    let taken = 0;
    for (let n = 0; n < 4000; n++) {
      const bytes = [...base[n % base.length]];
      const edits = 1 + Math.floor(rnd() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rnd() * (bytes.length + 1));
        const op = rnd();
        if (op < 0.4) bytes.splice(at, 1);
        else if (op < 0.8) bytes.splice(at, 0, alphabet[Math.floor(rnd() * alphabet.length)]);
        else bytes.splice(at, 1, alphabet[Math.floor(rnd() * alphabet.length)]);
      }
      if (checked(Buffer.from(bytes))) taken++;
    }
    // Some mutations keep the frame valid (in the base64 payload's digits, say): those are taken and checked above.
    expect(taken).toBeGreaterThan(100);
  });
});
