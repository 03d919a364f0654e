import * as jpeg from 'jpeg-js';
import { ZoomSimulator } from './index';
import { audioPacket, toneHz, videoFrame } from './media';
import { MediaMessageEncoder } from './rtms-media-encoder';
import { RtmsMediaPump } from './rtms-media-pump';
import { JsonSocket, mediaHandshake, mediaUrls, signalingHandshake } from './spec-client.spec-helper';
import type { MediaEncoding } from './types';

const text = (m: Buffer | string) => (typeof m === 'string' ? m : m.toString('utf8'));
const TS = 1_764_500_000_123;

describe('pre-encoded media messages', () => {
  const audio = audioPacket([toneHz(1)], 16000, 320, 320, 1, false);
  const frame = videoFrame(2, 1, { width: 64, height: 36 }, 5);

  it('are byte-identical to JSON.stringify for every shape the pump sends', () => {
    const enc = new MediaMessageEncoder();
    const cases: Array<[number, Record<string, unknown>]> = [
      [14, { user_id: 101, user_name: 'Zoë 山田 "quoted" \\ back', data: audio.base64, length: audio.length, timestamp: TS }],
      [14, { user_id: 0, data: audio.base64, length: audio.length, timestamp: TS + 20 }], // mixed audio: no name
      [15, { user_id: 102, user_name: '../../etc/passwd', data: frame.base64, length: frame.length, timestamp: TS + 200 }],
      [16, { user_id: 102, user_name: 'Sharer', data: frame.base64, length: frame.length, timestamp: TS + 1000 }],
      // the same payload for another user, name or type must not reuse a template
      [14, { user_id: 102, user_name: 'Bo', data: audio.base64, length: audio.length, timestamp: TS }],
      [14, { user_id: 101, user_name: 'Renamed', data: audio.base64, length: audio.length, timestamp: TS }],
      [15, { user_id: 101, user_name: 'Renamed', data: audio.base64, length: audio.length, timestamp: TS }],
      // fall back to JSON.stringify: short payloads, other key orders, timestamps that are not 13-digit integers
      [17, { user_id: 1, user_name: 'A', start_time: TS, end_time: TS + 5, timestamp: TS + 5, language: 9, attribute: 1, data: 'hi' }],
      [18, { user_id: 1, user_name: 'A', timestamp: TS, data: 'chat' }],
      [14, { user_id: 1, data: audio.base64, user_name: 'A', length: audio.length, timestamp: TS }],
      [14, { user_id: 1, user_name: 'A', data: audio.base64, length: audio.length, timestamp: TS + 0.5 }],
      [14, { user_id: 1, user_name: 'A', data: audio.base64, length: audio.length, timestamp: 12345 }],
      [14, { user_id: 1, user_name: 'A', data: audio.base64, length: audio.length, timestamp: '1764500000123' }],
    ];
    for (let round = 0; round < 2; round++)
      for (const [msgType, content] of cases) expect(text(enc.encode(msgType, content))).toBe(JSON.stringify({ msg_type: msgType, content }));
  });

  it('advance the timestamp on every send and never change a message already handed out', () => {
    const enc = new MediaMessageEncoder();
    const sent: Array<Buffer | string> = [];
    for (let i = 0; i < 100; i++) sent.push(enc.encode(14, { user_id: 7, user_name: 'Ann', data: audio.base64, length: audio.length, timestamp: TS + i * 20 }));
    expect(sent.every((m) => Buffer.isBuffer(m))).toBe(true);
    sent.forEach((m, i) => {
      const msg = JSON.parse(text(m)) as { msg_type: number; content: { timestamp: number; data: string; length: number } };
      expect(msg.msg_type).toBe(14);
      expect(msg.content.timestamp).toBe(TS + i * 20);
      expect(Buffer.from(msg.content.data, 'base64').length).toBe(msg.content.length);
    });
    // every digit place, including a carry through all of them
    for (const ts of [9_999_999_999_999, 1_000_000_000_000])
      expect(JSON.parse(text(enc.encode(14, { user_id: 7, user_name: 'Ann', data: audio.base64, length: audio.length, timestamp: ts }))).content.timestamp).toBe(ts);
  });
});

/** One simulator per encoding, the same meeting script and media params. */
describe('pre-encoded media on the wire', () => {
  const creds = { clientId: 'enc_test_client', clientSecret: 'enc_test_secret' };
  const sims: ZoomSimulator[] = [];
  const sockets: JsonSocket[] = [];

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await Promise.all(sims.map((s) => s.stop()));
  });

  interface Frame {
    raw: string;
    isBinary: boolean;
  }
  type MediaFn = (s: unknown, c: unknown, kind: string, content: Record<string, unknown>, userId: number) => void;

  /** Runs one meeting until `audioWanted` audio packets of user 101 arrived; returns every audio and video frame as received. */
  async function capture(mediaEncoding: MediaEncoding, audioWanted: number): Promise<Frame[]> {
    const sim = await ZoomSimulator.start({ ...creds, videoScale: 0.1, mediaEncoding, keepAliveIntervalMs: 60_000 });
    sims.push(sim);
    const m = sim.createMeeting({
      participants: [
        { userId: 101, name: 'Zoë 山田', speaks: [{ atMs: 0, text: 'hello', durationMs: 60_000 }] },
        { userId: 102, name: '../../etc/passwd' },
      ],
    });
    const st = await sim.startRtms(m.id);
    const ev = { meeting_uuid: st.meetingUuid, rtms_stream_id: st.streamId, server_urls: st.serverUrls };
    const sig = await signalingHandshake(creds, ev);
    sockets.push(sig.sock);
    const media = await mediaHandshake(creds, ev, mediaUrls(sig.resp).all, 3, {
      audio: { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: 2, send_rate: 20 },
      video: { content_type: 3, codec: 5, resolution: 2, data_opt: 5, fps: 5 },
    });
    sockets.push(media.sock);
    const frames: Frame[] = [];
    media.sock.ws.on('message', (data: Buffer, isBinary: boolean) => {
      const raw = data.toString('utf8');
      if (/^\{"msg_type":1[45],/.test(raw)) frames.push({ raw, isBinary });
    });
    sig.sock.send({ msg_type: 7, rtms_stream_id: st.streamId });
    await media.sock.until(
      () => media.sock.msgs.filter((x) => x.msg_type === 14 && (x.content as { user_id: number }).user_id === 101).length >= audioWanted && media.sock.count(15) >= 4,
      10_000,
      'audio and video',
    );
    await Promise.all([sig.sock.close(), media.sock.close()]);
    return frames;
  }

  it('sends the same JSON text frames as stringifying each message, with decodable L16 and JPEG and 20 ms timestamp steps', async () => {
    // What the pump hands over for the prebuilt simulator's sockets, as the json encoding sends it.
    const pump = RtmsMediaPump.prototype as unknown as { media: MediaFn };
    const original = pump.media;
    const expected: string[] = [];
    pump.media = function (this: unknown, s, c, kind, content, userId) {
      if (kind === 'audio' || kind === 'video') expected.push(JSON.stringify({ msg_type: kind === 'audio' ? 14 : 15, content }));
      original.call(this, s, c, kind, content, userId);
    };
    let fast: Frame[];
    try {
      fast = await capture('prebuilt', 50);
    } finally {
      pump.media = original;
    }
    const slow = await capture('json', 50);

    for (const f of [...fast, ...slow]) expect(f.isBinary).toBe(false);
    // The very messages the pump built, byte for byte and in order.
    expect(expected.length).toBeGreaterThanOrEqual(fast.length);
    expect(fast.map((f) => f.raw)).toEqual(expected.slice(0, fast.length));

    const parsed = fast.map((f) => JSON.parse(f.raw) as { msg_type: number; content: { user_id: number; user_name: string; data: string; length: number; timestamp: number } });
    const audio = parsed.filter((p) => p.msg_type === 14);
    for (const a of audio) {
      expect(Object.keys(a.content)).toEqual(['user_id', 'user_name', 'data', 'length', 'timestamp']);
      expect(Buffer.from(a.content.data, 'base64').length).toBe(640);
      expect(a.content.length).toBe(640);
    }
    for (const user of [101, 102]) {
      const ts = audio.filter((a) => a.content.user_id === user).map((a) => a.content.timestamp);
      expect(ts.length).toBeGreaterThan(10);
      for (let i = 1; i < ts.length; i++) expect(ts[i] - ts[i - 1]).toBe(20);
    }
    expect(audio.find((a) => a.content.user_id === 101)?.content.user_name).toBe('Zoë 山田');
    const video = parsed.filter((p) => p.msg_type === 15);
    expect(video.length).toBeGreaterThanOrEqual(4);
    for (const v of video) {
      const bytes = Buffer.from(v.content.data, 'base64');
      expect(bytes.length).toBe(v.content.length);
      expect(jpeg.decode(bytes, { useTArray: true }).width).toBe(128);
    }
    // The json encoding sends the same shapes (fields, names, lengths).
    const shape = (f: Frame) => {
      const msg = JSON.parse(f.raw) as { msg_type: number; content: Record<string, unknown> };
      return `${msg.msg_type}:${Object.keys(msg.content).join(',')}:${String(msg.content.user_name)}:${String(msg.content.length)}`;
    };
    const audioShapes = (frames: Frame[]) => new Set(frames.filter((f) => f.raw.startsWith('{"msg_type":14')).map(shape));
    expect(audioShapes(fast)).toEqual(audioShapes(slow));
  });
});
