import type { WebSocket } from 'ws';
import { MeetingState } from './meeting';
import { MsgType } from './protocol';
import { RtmsMediaPump } from './rtms-media-pump';
import { Conn, Stream } from './rtms-stream';
import type { ConnectionRecord } from './types';

/**
 * A pump tick that comes late (a busy event loop) covers several script events at once; they
 * must still leave in script order, as the real Zoom sends them, not grouped by participant.
 */
describe('RtmsMediaPump: a late tick', () => {
  const START = 1_800_000_000_000;
  let now = START;
  beforeEach(() => jest.spyOn(Date, 'now').mockImplementation(() => now));
  afterEach(() => jest.restoreAllMocks());

  function setUp() {
    const meeting = new MeetingState(1, 'uuid', 'topic', '', 'host', [], 'meeting', START, undefined, 1, [
      { userId: 1, name: 'Ann', speaks: [{ atMs: 1000, durationMs: 1000, text: 'a0' }, { atMs: 4000, durationMs: 1000, text: 'a1' }], chat: [{ atMs: 1000, text: 'c-a0' }, { atMs: 4000, text: 'c-a1' }] },
      { userId: 2, name: 'Bob', speaks: [{ atMs: 2500, durationMs: 1000, text: 'b0' }], chat: [{ atMs: 2500, text: 'c-b0' }] },
    ]);
    const stream = new Stream(meeting, 'op');
    const sent: Array<{ msgType: number; text: string }> = [];
    const socket = { bufferedAmount: 0 } as unknown as WebSocket;
    stream.signaling = new Conn(1, socket, 'signaling', 0, '/sig', undefined, {} as ConnectionRecord);
    const media = new Conn(2, socket, 'media', 0, '/all', 'all', {} as ConnectionRecord);
    media.active = true;
    media.kinds = ['transcript', 'chat'];
    media.params = { transcript: { content_type: 5 }, chat: { content_type: 5 } };
    media.cursors = { transcript: { next: 0 }, chat: { next: 0 } };
    stream.media.set('all', media);
    const pump = new RtmsMediaPump({ videoScale: 1, videoGrain: false, mediaEncoding: 'json' }, new Map([[stream.streamId, stream]]), {
      send: (c, msg) => {
        const content = msg.content as { data?: string } | undefined;
        // Chat's text is inside the JSON in data (rtms-protocol.md §3, the newer shape).
        const text = msg.msg_type === MsgType.MEDIA_DATA_CHAT && content?.data ? (JSON.parse(content.data) as { data: string }).data : content?.data;
        if (c === media && text) sent.push({ msgType: Number(msg.msg_type), text });
        return true;
      },
      sendEncoded: () => true,
      terminate: () => undefined,
    });
    return { pump, sent };
  }

  it('sends every transcript line and chat message it covers in the order they happened', () => {
    const { pump, sent } = setUp();
    now = START + 6000; // one tick for the first six seconds of the meeting
    pump.tick();
    expect(sent.filter((m) => m.msgType === MsgType.MEDIA_DATA_TRANSCRIPT).map((m) => m.text)).toEqual(['a0', 'b0', 'a1']);
    expect(sent.filter((m) => m.msgType === MsgType.MEDIA_DATA_CHAT).map((m) => m.text)).toEqual(['c-a0', 'c-b0', 'c-a1']);
  });

  it('sends each line once across ticks', () => {
    const { pump, sent } = setUp();
    for (const t of [1500, 2000, 3600, 6000, 9000]) {
      now = START + t;
      pump.tick();
    }
    expect(sent.filter((m) => m.msgType === MsgType.MEDIA_DATA_TRANSCRIPT).map((m) => m.text)).toEqual(['a0', 'b0', 'a1']);
    expect(sent.filter((m) => m.msgType === MsgType.MEDIA_DATA_CHAT).map((m) => m.text)).toEqual(['c-a0', 'c-b0', 'c-a1']);
  });
});

describe('RtmsMediaPump.prewarm', () => {
  afterEach(() => jest.restoreAllMocks());

  it('encodes the still frames a new video/deskshare socket will send (cameras, sharers), one per turn of the event loop, and none for H.264', async () => {
    const media = await import('./media');
    const encode = jest.spyOn(media, 'videoFrame');
    const meeting = new MeetingState(1, 'uuid', 'topic', '', 'host', [], 'meeting', Date.now(), undefined, 1, [
      { userId: 1, name: 'Ann' },
      { userId: 2, name: 'Bob', camera: false, cameraSchedule: [{ atMs: 5000, on: true }], shares: [{ fromMs: 1000, toMs: 2000 }] },
      { userId: 3, name: 'Cy', camera: false },
    ]);
    const stream = new Stream(meeting, 'op');
    const socket = { bufferedAmount: 0 } as unknown as WebSocket;
    const conn = new Conn(2, socket, 'media', 0, '/all', 'all', {} as ConnectionRecord);
    conn.kinds = ['audio', 'video', 'deskshare'];
    conn.params = { audio: { codec: 1 }, video: { codec: 5, resolution: 1 }, deskshare: { codec: 6, resolution: 2 } };
    const pump = new RtmsMediaPump({ videoScale: 0.05, videoGrain: false, mediaEncoding: 'prebuilt' }, new Map(), { send: () => true, sendEncoded: () => true, terminate: () => undefined });
    pump.prewarm(stream, conn);
    expect(encode).not.toHaveBeenCalled(); // nothing on the handshake's own turn
    const deadline = Date.now() + 10_000;
    while (encode.mock.calls.length < 3 * media.FRAME_CYCLE && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const calls = encode.mock.calls.map(([slot, index, , codec, screen]) => `${slot}:${index}:${codec}:${screen}`);
    // Ann's and Bob's cameras (Bob's comes on later), Bob's shared screen as PNG; never Cy (camera off, no share).
    expect(calls.sort()).toEqual(Array.from({ length: media.FRAME_CYCLE }, (_, i) => [`0:${i}:5:false`, `1:${i}:5:false`, `1:${i}:6:true`]).flat().sort());

    encode.mockClear();
    const h264 = new Conn(3, socket, 'media', 0, '/video', 'video', {} as ConnectionRecord);
    h264.kinds = ['video'];
    h264.params = { video: { codec: 7, resolution: 2 } };
    pump.prewarm(stream, h264);
    await new Promise((r) => setImmediate(r));
    expect(encode).not.toHaveBeenCalled();
  });
});
