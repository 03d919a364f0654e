import type { WebSocket } from 'ws';
import { ZoomSimulator } from './index';
import { MeetingState } from './meeting';
import { MsgType } from './protocol';
import { RtmsMediaPump } from './rtms-media-pump';
import { RtmsRecorder } from './rtms-records';
import { RtmsSignaling } from './rtms-signaling';
import { Conn, Stream } from './rtms-stream';
import { content, mediaHandshake, mediaUrls, signalingHandshake, type Msg } from './spec-client.spec-helper';
import type { ConnectionRecord } from './types';

/**
 * rtms-protocol.md §2: msg 1 `buffer_data` "defaults to true (the server buffers up to 60 s of
 * audio from webhook time); false drops only that initial buffer". §3: "Audio is buffered up to
 * 60 s before connect and video is not, so the A/V offset ≈ firstPacketTimestamp −
 * rtms_started.event_ts".
 */
describe('RTMS buffer_data: audio buffered from the webhook', () => {
  const creds = { clientId: 'buffer_client', clientSecret: 'buffer_secret' };
  let sim: ZoomSimulator;
  const SEND_RATE = 20;

  beforeAll(async () => {
    sim = await ZoomSimulator.start({ ...creds, videoScale: 0.1, autoUrlValidation: false, keepAliveIntervalMs: 1000 });
  });
  afterAll(async () => {
    await sim.stop();
  });

  /** The client connects 1.5 s after the webhook, with audio and video on `all`. */
  async function connectLate(msg1Extra?: Msg) {
    const m = sim.createMeeting({ participants: [{ userId: 101, name: 'Ann' }] }); // present, unmuted, camera on from 0
    const before = Date.now();
    const st = await sim.startRtms(m.id);
    const after = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    const ev = { meeting_uuid: m.uuid, rtms_stream_id: st.streamId, server_urls: st.serverUrls };
    const sig = await signalingHandshake(creds, ev, { extra: msg1Extra });
    expect(sig.resp.status_code).toBe(0);
    const media = await mediaHandshake(creds, ev, mediaUrls(sig.resp).all, 1 | 2, {
      audio: { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: 1, send_rate: SEND_RATE },
      video: { content_type: 3, codec: 5, resolution: 1, data_opt: 3, fps: 5 },
    });
    expect(media.resp.status_code).toBe(0);
    const ackAt = Date.now();
    sig.sock.send({ msg_type: MsgType.CLIENT_READY_ACK, rtms_stream_id: st.streamId });
    const ts = (type: number) => media.sock.msgs.filter((x) => x.msg_type === type).map((x) => Number(content(x).timestamp));
    // Until audio has caught up with the ack (the buffered burst, then live packets).
    await media.sock.until(() => ts(14).some((t) => t >= ackAt + 300) && ts(15).length > 0, 10_000, 'audio past the ack');
    return { st, ev, urls: mediaUrls(sig.resp), sig: sig.sock, media: media.sock, before, after, ackAt, audio: ts(14), video: ts(15) };
  }

  it('by default sends the audio from the webhook on: first packet within one send_rate of stream creation, no gap up to live; video from the ack', async () => {
    const { sig, media, before, after, ackAt, audio, video } = await connectLate();
    try {
      expect(audio[0]).toBeGreaterThanOrEqual(before);
      expect(audio[0]).toBeLessThanOrEqual(after + SEND_RATE);
      expect(ackAt - audio[0]).toBeGreaterThan(1400); // the 1.5 s before the connect are there
      // One packet per send_rate, the buffered span and the live packets after it alike.
      const steps = new Set(audio.slice(1).map((t, i) => t - audio[i]));
      expect([...steps]).toEqual([SEND_RATE]);
      // Video is not buffered: it starts at the ack.
      expect(video[0]).toBeGreaterThanOrEqual(ackAt);
      // Event 1 (FIRST_PACKET_TIMESTAMP) is the buffered audio's first packet: the A/V offset of §3.
      const first = await sig.until(() => sig.msgs.find((x) => x.msg_type === MsgType.EVENT_UPDATE && (x.event as Msg).event_type === 1), 3000, 'event 1');
      expect((first.event as Msg).timestamp).toBe(audio[0]);
    } finally {
      await Promise.all([sig.close(), media.close()]);
    }
  });

  it('with buffer_data: false starts audio at the ack', async () => {
    const { sig, media, ackAt, audio } = await connectLate({ buffer_data: false });
    try {
      expect(audio[0]).toBeGreaterThanOrEqual(ackAt);
      expect(audio[0]).toBeLessThan(ackAt + 500);
    } finally {
      await Promise.all([sig.close(), media.close()]);
    }
  });

  it('gives the buffer to the first connection only: a media reconnect resumes at its ack', async () => {
    const { st, ev, urls, sig, media, before } = await connectLate();
    try {
      await media.close();
      await sim.waitFor(() => sim.record(st.streamId).live.media.all === 0, 3000);
      const again = await mediaHandshake(creds, ev, urls.all, 1, { audio: { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: 1, send_rate: SEND_RATE } });
      expect(again.resp.status_code).toBe(0);
      const ackAt = Date.now();
      sig.send({ msg_type: MsgType.CLIENT_READY_ACK, rtms_stream_id: st.streamId });
      const a = await again.sock.next(14, 3000);
      expect(Number(content(a).timestamp)).toBeGreaterThanOrEqual(ackAt);
      expect(Number(content(a).timestamp)).toBeGreaterThan(before + 1500);
      await again.sock.close();
    } finally {
      await Promise.all([sig.close(), media.close()]);
    }
  });
});

/** The engine's pieces with a mocked clock: the 60 s cap and the chunked burst. */
describe('RTMS buffer_data: the buffered burst', () => {
  const START = 1_800_000_000_000;
  let now = START;
  beforeEach(() => {
    now = START;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());

  const socket = { bufferedAmount: 0, readyState: 1 } as unknown as WebSocket;
  const AUDIO = { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: 1, send_rate: 20 };

  function setUp() {
    const meeting = new MeetingState(1, 'uuid', 'topic', '', 'host', [], 'meeting', START, undefined, 1, [{ userId: 1, name: 'Ann' }]);
    const stream = new Stream(meeting, 'op'); // created (webhook) at script time 0
    const sig = new Conn(1, socket, 'signaling', 0, '/sig', undefined, {} as ConnectionRecord);
    sig.stream = stream;
    sig.handshaken = true;
    stream.signaling = sig;
    let nextId = 2;
    const mediaConn = (kinds: Array<'audio' | 'video'>) => {
      const c = new Conn(nextId++, socket, 'media', 0, '/all', 'all', {} as ConnectionRecord);
      c.stream = stream;
      c.handshaken = true;
      c.kinds = kinds;
      c.params = { audio: AUDIO, video: { content_type: 3, codec: 5, resolution: 1, data_opt: 3, fps: 5 } };
      return c;
    };
    const signaling = new RtmsSignaling(new RtmsRecorder(new Map(), () => undefined), { send: () => true, snapshot: () => undefined, terminate: () => undefined });
    const ack = () => signaling.handle(sig, MsgType.CLIENT_READY_ACK, { msg_type: MsgType.CLIENT_READY_ACK, rtms_stream_id: stream.streamId });
    const sent: Array<{ tick: number; msgType: number; ts: number }> = [];
    let tick = 0;
    const pump = new RtmsMediaPump({ videoScale: 0.05, videoGrain: false, mediaEncoding: 'json' }, new Map([[stream.streamId, stream]]), {
      send: (_c, msg) => {
        const ts = Number((msg.content as Msg | undefined)?.timestamp ?? (msg.event as Msg | undefined)?.timestamp);
        sent.push({ tick, msgType: Number(msg.msg_type), ts });
        return true;
      },
      sendEncoded: () => true,
      terminate: () => undefined,
    });
    const run = (ticks: number) => {
      for (let i = 0; i < ticks; i++) {
        tick++;
        pump.tick();
        now += 20;
      }
    };
    return { stream, mediaConn, ack, run, sent };
  }

  it('holds at most 60 s: connecting 90 s after the webhook starts audio 60 s back, sent in bounded chunks per tick', () => {
    const { stream, mediaConn, ack, run, sent } = setUp();
    const c = mediaConn(['audio', 'video']);
    stream.media.set('all', c);
    now = START + 90_000;
    ack();
    run(40);
    const audio = sent.filter((x) => x.msgType === MsgType.MEDIA_DATA_AUDIO);
    expect(audio[0].ts).toBe(START + 30_000);
    // 60 s at 20 ms = 3000 packets, then live ones; each tick sends at most 250 (5 s of audio).
    const perTick = new Map<number, number>();
    for (const a of audio) perTick.set(a.tick, (perTick.get(a.tick) ?? 0) + 1);
    expect(Math.max(...perTick.values())).toBeLessThanOrEqual(250);
    expect(perTick.size).toBeGreaterThanOrEqual(12);
    expect(audio.slice(1).every((a, i) => a.ts - audio[i].ts === 20)).toBe(true);
    expect(audio[audio.length - 1].ts).toBeGreaterThanOrEqual(now - 60);
    // Video is not buffered; event 1 carries the first (buffered) audio packet's timestamp.
    expect(sent.find((x) => x.msgType === MsgType.MEDIA_DATA_VIDEO)!.ts).toBeGreaterThanOrEqual(START + 90_000);
    expect(sent.find((x) => x.msgType === MsgType.EVENT_UPDATE)!.ts).toBe(START + 30_000);
  });

  it('gives the buffer to the first socket that carries audio (split mode: video acked first) and never again', () => {
    const { stream, mediaConn, ack, run, sent } = setUp();
    now = START + 2000;
    const video = mediaConn(['video']);
    stream.media.set('video', video);
    ack(); // the video socket's ack: nothing buffered
    run(5);
    const audio = mediaConn(['audio']);
    stream.media.set('audio', audio);
    ack(); // the audio socket's ack
    run(5);
    expect(sent.find((x) => x.msgType === MsgType.MEDIA_DATA_AUDIO)!.ts).toBe(START);
    // The audio socket is replaced (a media reconnect): it starts at its ack.
    stream.media.delete('audio');
    const again = mediaConn(['audio']);
    stream.media.set('audio', again);
    now = START + 5000;
    ack();
    expect(again.cursors.audio!.next).toBe(5000);
  });
});
