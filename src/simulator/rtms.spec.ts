import * as jpeg from 'jpeg-js';
import { ZoomSimulator } from './index';
import { content, JsonSocket, mediaHandshake, mediaUrls, signalingHandshake, sign, type Msg, type StartedEvent } from './spec-client.spec-helper';

const creds = { clientId: 'rtms_test_client', clientSecret: 'rtms_test_secret' };

function startedEvent(sim: ZoomSimulator, streamId: string): StartedEvent {
  const s = sim.stream(streamId);
  if (!s) throw new Error('no stream');
  return { meeting_uuid: s.meetingUuid, rtms_stream_id: s.streamId, server_urls: s.serverUrls };
}

describe('RTMS signaling + media servers', () => {
  let sim: ZoomSimulator;
  const sockets: JsonSocket[] = [];
  const track = <T extends { sock: JsonSocket }>(x: T): T => {
    sockets.push(x.sock);
    return x;
  };

  // Reconnect windows long enough that a reconnect made at once fits on a loaded CI machine
  // (400 ms did not, once), short enough that the tests waiting for them to run out stay quick.
  const WINDOW_MS = 1500;
  const KEEPALIVE_MS = 60;

  beforeAll(async () => {
    sim = await ZoomSimulator.start({ ...creds, keepAliveIntervalMs: KEEPALIVE_MS, keepAliveMissLimit: 3, signalingReconnectWindowMs: WINDOW_MS, mediaReconnectWindowMs: WINDOW_MS, videoScale: 0.25 });
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await sim.stop();
  });

  async function connected(script?: Parameters<ZoomSimulator['createMeeting']>[0]) {
    const m = sim.createMeeting(script);
    const st = await sim.startRtms(m.id);
    const ev = startedEvent(sim, st.streamId);
    const sig = track(await signalingHandshake(creds, ev));
    expect(sig.resp.status_code).toBe(0);
    return { m, st, ev, sig: sig.sock, urls: mediaUrls(sig.resp) };
  }

  it('completes the handshake on `all` and delivers every media type, events and keep-alives', async () => {
    const { st, ev, sig, urls } = await connected({
      // Transcript and chat are sent from the CLIENT_READY_ACK's meeting time on: script them
      // well after it (the handshakes take longer than a few hundred ms on a busy machine).
      participants: [
        { userId: 101, name: 'Ann Lee', speaks: [{ atMs: 2000, text: 'first line', durationMs: 300 }], chat: [{ atMs: 2300, text: 'hello chat' }], shares: [{ fromMs: 0, toMs: 60_000 }] },
        { userId: 102, name: '../../etc/passwd', speaks: [{ atMs: 2400, text: 'second line', durationMs: 200 }] },
      ],
    });
    // rtms-protocol.md §2: keys of their own only for audio, video and transcript; deskshare and chat go through `all`.
    expect(Object.keys(urls).sort()).toEqual(['all', 'audio', 'transcript', 'video']);
    const { sock: media, resp } = track(
      await mediaHandshake(creds, ev, urls.all, 32, {
        audio: { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: 2, send_rate: 100 },
        video: { content_type: 3, codec: 5, resolution: 2, data_opt: 5, fps: 5 },
        deskshare: { content_type: 3, codec: 5, resolution: 2, fps: 1 },
        transcript: { content_type: 5, src_language: 9 },
        chat: { content_type: 5 },
      }),
    );
    expect(resp.status_code).toBe(0);
    // Nothing flows before CLIENT_READY_ACK: three of the server's 60 ms keep-alives on this
    // socket mean its timers have run past the first 100 ms audio interval.
    await media.until(() => media.keepAlivesSeen >= 3, 3000);
    expect(media.msgs.filter((m) => (m.msg_type ?? 0) >= 14 && (m.msg_type ?? 0) <= 18)).toHaveLength(0);
    sig.send({ msg_type: 7, rtms_stream_id: st.streamId });
    sig.send({ msg_type: 5, events: [3, 4, 2, 5, 6, 8, 9].map((event_type) => ({ event_type, subscribe: true })) });
    for (const t of [14, 15, 16, 17, 18]) await media.next(t, 5000);
    await sig.until(() => sig.msgs.find((m) => (m.event as Msg | undefined)?.event_type === 1), 3000, 'first packet event');
    const join = await sig.until(() => sig.msgs.find((m) => (m.event as Msg | undefined)?.event_type === 3), 3000, 'join');
    expect((join.event as { participants: unknown[] }).participants).toHaveLength(2);
    await sig.until(() => sig.msgs.find((m) => (m.event as Msg | undefined)?.event_type === 5), 3000, 'share start');
    // audio: per user, L16 16k mono 100 ms = 3200 bytes; timestamps step by send_rate
    const audio = media.msgs.filter((m) => m.msg_type === 14).map(content);
    for (const a of audio) {
      expect(a.length).toBe(3200);
      expect(Buffer.from(String(a.data), 'base64').length).toBe(3200);
    }
    const ann = audio.filter((a) => a.user_id === 101).map((a) => Number(a.timestamp));
    for (let i = 1; i < ann.length; i++) expect(ann[i] - ann[i - 1]).toBe(100);
    expect(audio.some((a) => a.user_name === '../../etc/passwd')).toBe(true);
    // video: real JPEGs, decodable, one per participant (gallery), different per participant
    const video = media.msgs.filter((m) => m.msg_type === 15).map(content);
    const frames = new Map<unknown, Buffer>();
    for (const v of video.slice(0, 6)) {
      const bytes = Buffer.from(String(v.data), 'base64');
      expect(bytes.length).toBe(v.length);
      expect(bytes.subarray(0, 2).toString('hex')).toBe('ffd8');
      const img = jpeg.decode(bytes, { useTArray: true });
      expect(img.width).toBeGreaterThan(0);
      expect(img.height).toBeGreaterThan(0);
      frames.set(v.user_id, bytes);
    }
    expect(frames.size).toBe(2);
    expect(frames.get(101)?.equals(frames.get(102) as Buffer)).toBe(false);
    const share = content(media.msgs.find((m) => m.msg_type === 16) as Msg);
    expect(jpeg.decode(Buffer.from(String(share.data), 'base64')).width).toBeGreaterThan(0);
    const tr = content(media.msgs.find((m) => m.msg_type === 17) as Msg);
    expect(tr).toMatchObject({ user_id: 101, user_name: 'Ann Lee', data: 'first line', language: 9 });
    expect(Number(tr.end_time) - Number(tr.start_time)).toBe(300);
    // Chat as newer servers send it (rtms-protocol.md §3): content names no user; the sender is in the JSON in data.
    const chat = content(media.msgs.find((m) => m.msg_type === 18) as Msg);
    expect(chat).not.toHaveProperty('user_id');
    expect(JSON.parse(String(chat.data))).toMatchObject({ sender: { user_id: 101, user_name: 'Ann Lee' }, data: 'hello chat', operation_type: 1, message_id: expect.any(String) });
    // keep-alives on both sockets
    await sig.until(() => sig.keepAlivesSeen >= 2, 3000);
    await media.until(() => media.keepAlivesSeen >= 2, 3000);
    const rec = sim.record(st.streamId);
    expect(rec.readyAcks).toEqual([expect.objectContaining({ valid: true })]);
    expect(rec.keepAlives.signaling.answered).toBeGreaterThanOrEqual(1);
    expect(rec.keepAlives.media.answered).toBeGreaterThanOrEqual(1);
    expect(rec.messagesSent.byUser['101'][14]).toBeGreaterThan(0);
    expect(rec.live).toMatchObject({ signaling: 1, media: { all: 1 } });
    // stream close (21 → 22, stop reason 20)
    sig.send({ msg_type: 21, rtms_stream_id: st.streamId });
    expect((await sig.next(22)).status_code).toBe(0);
    expect(await sig.next(8)).toMatchObject({ state: 4, reason: 20 });
    await sig.closed();
    expect(sim.record(st.streamId)).toMatchObject({ state: 'terminated', stopReason: 20 });
  });

  it('per-type media connections, mixed audio, L16 sizes, JSON in binary frames', async () => {
    const { st, ev, sig, urls } = await connected();
    sig.sendBinary = true;
    const audio = track(await mediaHandshake(creds, ev, urls.audio, 1, { audio: { content_type: 2, sample_rate: 3, channel: 1, codec: 1, data_opt: 1, send_rate: 40 } }));
    expect(audio.resp.status_code).toBe(0);
    audio.sock.sendBinary = true;
    const video = track(await mediaHandshake(creds, ev, urls.video, 2, { video: { codec: 6, resolution: 1, fps: 3 } }));
    expect(video.resp.status_code).toBe(0);
    const tr = track(await mediaHandshake(creds, ev, urls.transcript, 8));
    expect(tr.resp.media_params).toEqual({ transcript: expect.objectContaining({ content_type: 5 }) });
    sig.send({ msg_type: 7, rtms_stream_id: st.streamId });
    const a = content(await audio.sock.next(14));
    expect(a.user_id).toBe(0);
    expect(a.user_name).toBeUndefined();
    expect(a.length).toBe(48000 * 2 * 1 * 0.04);
    const v = content(await video.sock.next(15));
    expect(Buffer.from(String(v.data), 'base64').subarray(1, 4).toString()).toBe('PNG');
    // keep-alives answered in binary frames count
    await audio.sock.until(() => sim.record(st.streamId).keepAlives.media.answered >= 2, 3000);
    await sig.until(() => sim.record(st.streamId).keepAlives.signaling.answered >= 2, 3000);
    expect(sim.record(st.streamId).live.media).toMatchObject({ audio: 1, video: 1, transcript: 1, all: 0 });
    await sim.stopRtms(st.streamId);
    expect(await sig.next(8)).toMatchObject({ state: 4, reason: 25 });
  });

  it("takes a Video SDK session's handshake signed with the SDK key and secret, and refuses one signed with the meeting app's", async () => {
    const m = sim.createSession({ topic: 'sdk' });
    const st = await sim.startRtms(m.id);
    const ev = startedEvent(sim, st.streamId);
    const withMeetingApp = track(await signalingHandshake(creds, ev));
    expect(withMeetingApp.resp.status_code).toBe(3);
    await withMeetingApp.sock.closed();
    const withSdkApp = track(await signalingHandshake({ clientId: 'sim_sdk_key', clientSecret: 'sim_sdk_secret' }, ev));
    expect(withSdkApp.resp.status_code).toBe(0);
    await sim.stopRtms(st.streamId);
  });

  it('returns the spec status for each handshake error', async () => {
    const { st, ev, urls } = await connected();
    // 2: unknown stream
    const unknown = track(await signalingHandshake(creds, { ...ev, rtms_stream_id: 'f'.repeat(32) }));
    expect(unknown.resp.status_code).toBe(2);
    await unknown.sock.closed();
    // 3: wrong signature (wrong secret)
    const badSig = track(await signalingHandshake(creds, ev, { signature: sign(creds.clientId, 'wrong', ev.meeting_uuid, ev.rtms_stream_id) }));
    expect(badSig.resp.status_code).toBe(3);
    // 8: duplicate signaling while one is live
    const dup = track(await signalingHandshake(creds, ev));
    expect(dup.resp.status_code).toBe(8);
    await dup.sock.closed();
    expect(sim.record(st.streamId).maxLiveSignaling).toBe(1);
    // media handshake errors
    const media = async (url: string, type: number, params?: unknown) => {
      const r = track(await mediaHandshake(creds, ev, url, type, params));
      return r.resp.status_code;
    };
    expect(await media(urls.all, 32, { audio: { sample_rate: 9 } })).toBe(20);
    expect(await media(urls.all, 1, { audio: { content_type: 5 } })).toBe(19);
    expect(await media(urls.all, 1, { audio: { channel: 2, codec: 1 } })).toBe(21);
    expect(await media(urls.all, 1, { audio: { send_rate: 30 } })).toBe(24);
    expect(await media(urls.all, 1, { audio: { data_opt: 3 } })).toBe(23);
    expect(await media(urls.all, 2, { video: { codec: 5, fps: 25 } })).toBe(30);
    expect(await media(urls.all, 2, { video: { codec: 2 } })).toBe(27);
    expect(await media(urls.all, 2, { video: { resolution: 7 } })).toBe(28);
    expect(await media(urls.all, 4, { deskshare: { fps: 60 } })).toBe(35);
    expect(await media(urls.all, 8, { transcript: { src_language: 99 } })).toBe(43);
    expect(await media(urls.all, 16, { chat: { content_type: 2 } })).toBe(39);
    expect(await media(urls.all, 1, 'nope')).toBe(17);
    expect(await media(urls.all, 1, { audio: 5 })).toBe(18);
    expect(await media(urls.all, 0)).toBe(14);
    expect(await media(urls.audio, 2)).toBe(7);
    const badMediaSig = track(await mediaHandshake(creds, ev, urls.audio, 1, undefined, { signature: 'ab'.repeat(32) }));
    expect(badMediaSig.resp.status_code).toBe(3);
    // 15/16: duplicates
    expect(await media(urls.audio, 1)).toBe(0);
    expect(await media(urls.audio, 1)).toBe(16);
    expect(await media(urls.all, 32)).toBe(16);
    const ok = await media(urls.video, 2);
    expect(ok).toBe(0);
    // close per-type sockets, then `all` blocks per-type
    await Promise.all(sockets.filter((s) => s.ws.url.includes('/media/')).map((s) => s.close()));
    await sim.waitFor(() => sim.record(st.streamId).live.media.audio === 0 && sim.record(st.streamId).live.media.video === 0);
    expect(await media(urls.all, 32)).toBe(0);
    expect(await media(urls.audio, 1)).toBe(15);
    expect(await media(urls.all, 32)).toBe(15);
    const statuses = sim.record(st.streamId).handshakes.map((h) => h.statusCode);
    expect(statuses).toEqual(expect.arrayContaining([0, 3, 8, 15, 16, 17, 20, 30]));
    expect(sim.record('f'.repeat(32)).handshakes[0].statusCode).toBe(2);
  });

  it('interrupts a client that stops answering keep-alives after 3 misses, then ends the stream after the window', async () => {
    const hooks: string[] = [];
    const { st, ev, sig, urls } = await connected();
    sim.setWebhookTarget(null);
    const media = track(await mediaHandshake(creds, ev, urls.all, 1));
    sig.send({ msg_type: 7, rtms_stream_id: st.streamId });
    const off = sim.webhookLog.length;
    sig.answerKeepAlives = false;
    const closed = await sig.closed(3000);
    expect(sig.keepAlivesSeen).toBe(3);
    expect(closed.code).toBe(1000);
    await media.sock.closed(1000);
    const rec = sim.record(st.streamId);
    expect(rec.state).toBe('interrupted');
    expect(rec.disconnects[0]).toMatchObject({ kind: 'signaling', reason: expect.stringContaining('keep-alive') });
    expect(rec.keepAlives.signaling.answered).toBe(0);
    await sim.waitFor(() => sim.record(st.streamId).state === 'terminated', WINDOW_MS + 10_000);
    expect(sim.record(st.streamId).stopReason).toBe(24);
    hooks.push(...sim.webhookLog.slice(off).map((w) => w.event));
    expect(hooks).toEqual([]); // webhooks off: nothing POSTed
  });

  it('media keep-alive misses close only the media socket (event 7) and a reconnect within the window keeps the stream', async () => {
    const { st, ev, sig, urls } = await connected();
    const m1 = track(await mediaHandshake(creds, ev, urls.audio, 1));
    sig.send({ msg_type: 7, rtms_stream_id: st.streamId });
    m1.sock.answerKeepAlives = false;
    await m1.sock.closed(3000);
    const ev7 = await sig.until(() => sig.msgs.find((m) => (m.event as Msg | undefined)?.event_type === 7), 2000, 'event 7');
    expect(ev7).toBeDefined();
    expect(sig.closeInfo).toBeUndefined();
    const m2 = track(await mediaHandshake(creds, ev, urls.audio, 1));
    expect(m2.resp.status_code).toBe(0);
    sig.send({ msg_type: 7, rtms_stream_id: st.streamId });
    await m2.sock.next(14);
    // Past the window on the server's own clock: more of its keep-alives than fit in it.
    const seen = m2.sock.keepAlivesSeen;
    await m2.sock.until(() => m2.sock.keepAlivesSeen >= seen + Math.ceil(WINDOW_MS / KEEPALIVE_MS) + 2, WINDOW_MS + 10_000);
    expect(sim.record(st.streamId).state).toBe('active');
    await sim.stopRtms(st.streamId);
  });

  it('a client that answers stays connected through a 60 s simulated meeting', async () => {
    const fast = await ZoomSimulator.start({ ...creds, speed: 30, keepAliveIntervalMs: 50, videoScale: 0.1 });
    try {
      const m = fast.createMeeting({
        durationMs: 60_000,
        participants: [
          { userId: 1, name: 'Zoë Ünicode 山田', cameraSchedule: [{ atMs: 10_000, on: false }, { atMs: 20_000, on: true }], speaks: [{ atMs: 5000, text: 'a' }, { atMs: 40_000, text: 'b' }] },
          { userId: 2, name: 'Late Joiner', joinAtMs: 15_000, leaveAtMs: 45_000, shares: [{ fromMs: 20_000, toMs: 30_000 }] },
        ],
      });
      const st = await fast.startRtms(m.id);
      const ev = startedEvent(fast, st.streamId);
      const sig = await signalingHandshake(creds, ev);
      const media = await mediaHandshake(creds, ev, mediaUrls(sig.resp).all, 32, { audio: { send_rate: 200 }, video: { fps: 1 } });
      sig.sock.send({ msg_type: 7, rtms_stream_id: st.streamId });
      sig.sock.send({ msg_type: 5, events: [3, 4, 5, 6, 8, 9].map((event_type) => ({ event_type, subscribe: true })) });
      const end = await sig.sock.until(() => sig.sock.msgs.find((x) => x.msg_type === 8 && x.state === 4), 10_000, 'terminated');
      expect(end.reason).toBe(6);
      const rec = fast.record(st.streamId);
      expect(rec.disconnects).toEqual([]);
      expect(rec.keepAlives.signaling.sent).toBeGreaterThan(10);
      expect(rec.keepAlives.signaling.answered).toBeGreaterThanOrEqual(rec.keepAlives.signaling.sent - 1);
      const types = sig.sock.msgs.filter((x) => x.msg_type === 6).map((x) => (x.event as Msg).event_type);
      expect(types).toEqual(expect.arrayContaining([3, 4, 5, 6, 8, 9]));
      expect(media.sock.count(14)).toBeGreaterThan(200);
      await sig.sock.closed();
      await media.sock.closed();
    } finally {
      await fast.stop();
    }
  });

  it('pause/resume, failover and the dropped-signaling fault', async () => {
    const { st, ev, sig, urls } = await connected();
    const media = track(await mediaHandshake(creds, ev, urls.all, 1));
    sig.send({ msg_type: 7, rtms_stream_id: st.streamId });
    await media.sock.next(14);
    sim.pauseRtms(st.streamId);
    expect(await sig.next(8)).toMatchObject({ state: 5 });
    expect(await sig.next(9)).toMatchObject({ state: 3 });
    sim.resumeRtms(st.streamId);
    await sig.until(() => sig.msgs.find((m) => m.msg_type === 8 && m.state === 6));
    // failover: old sockets closed, new server_urls, old URL refuses the stream
    const newUrl = sim.faults.failover(st.streamId);
    expect(newUrl).not.toBe(ev.server_urls);
    await sig.closed();
    const old = track(await signalingHandshake(creds, ev));
    expect(old.resp.status_code).toBe(2);
    const moved = track(await signalingHandshake(creds, { ...ev, server_urls: newUrl }));
    expect(moved.resp.status_code).toBe(0);
    expect(mediaUrls(moved.resp).all).toContain('/rtms/s1/');
    // drop signaling without webhook; reconnect within the window
    sim.faults.dropSignaling(st.streamId, { webhook: false });
    await moved.sock.closed();
    const again = track(await signalingHandshake(creds, { ...ev, server_urls: newUrl }));
    expect(again.resp.status_code).toBe(0);
    expect(sim.record(st.streamId).state).toBe('active');
    expect(sim.record(st.streamId).maxLiveSignaling).toBe(1);
    await sim.stopRtms(st.streamId);
  });

  it('a Zoom Room that joins shows up with camera video; malformed media faults are sent', async () => {
    const { m, st, ev, sig, urls } = await connected({ participants: [{ userId: 5, name: 'Muted no cam', camera: false, muted: true }] });
    const media = track(await mediaHandshake(creds, ev, urls.all, 2 | 1, { video: { codec: 5, fps: 5, data_opt: 3 } }));
    sig.send({ msg_type: 7, rtms_stream_id: st.streamId });
    sig.send({ msg_type: 5, events: [{ event_type: 3, subscribe: true }] });
    sim.addRoom({ id: 'room-a', name: 'Board Room' });
    const tokRes = await fetch(`${sim.oauthBaseUrl}/oauth/token?grant_type=account_credentials&account_id=${sim.options.s2s.accountId}`, {
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from(`${sim.options.s2s.clientId}:${sim.options.s2s.clientSecret}`).toString('base64') },
    });
    const { access_token } = (await tokRes.json()) as { access_token: string };
    const join = await fetch(`${sim.apiBaseUrl}/rooms/room-a/events`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'zoomroom.meeting_join', params: { meeting_number: String(m.id), passcode: m.passcode } }),
    });
    expect(join.status).toBe(202);
    const frame = content(await media.sock.next(15, 5000));
    expect(frame.user_name).toBe('Board Room');
    expect(jpeg.decode(Buffer.from(String(frame.data), 'base64')).width).toBeGreaterThan(0);
    await sig.until(() => sig.msgs.find((x) => (x.event as Msg | undefined)?.event_type === 3 && JSON.stringify(x).includes('Board Room')));
    const n = media.sock.msgs.length;
    sim.faults.malformedMedia(st.streamId, 'bad-json');
    sim.faults.malformedMedia(st.streamId, 'oversized');
    await media.sock.until(() => media.sock.msgs.slice(n).some((x) => x.msg_type === -1) && media.sock.msgs.slice(n).some((x) => x.msg_type === 15 && String(content(x).data).length > 9_000_000), 5000);
    await sim.stopRtms(st.streamId);
  });
});

describe('RTMS msg 2 server_urls and media types out of scope', () => {
  const sims: ZoomSimulator[] = [];
  const sockets: JsonSocket[] = [];
  const track = <T extends { sock: JsonSocket }>(x: T): T => {
    sockets.push(x.sock);
    return x;
  };
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
    await Promise.all(sims.splice(0).map((s) => s.stop()));
  });

  async function connected(opts: Parameters<typeof ZoomSimulator.start>[0]) {
    const sim = await ZoomSimulator.start({ ...creds, ...opts });
    sims.push(sim);
    const st = await sim.startRtms(sim.createMeeting().id);
    const ev = startedEvent(sim, st.streamId);
    const sig = track(await signalingHandshake(creds, ev));
    expect(sig.resp.status_code).toBe(0);
    const media = async (url: string, type: number) => track(await mediaHandshake(creds, ev, url, type)).resp.status_code;
    return { sim, st, urls: mediaUrls(sig.resp), media };
  }

  it('`shareChatUrls` also offers deskshare and chat keys, only for the types in scope', async () => {
    const { urls, media } = await connected({ shareChatUrls: true, mediaScopes: ['audio', 'deskshare', 'chat'] });
    expect(Object.keys(urls).sort()).toEqual(['all', 'audio', 'chat', 'deskshare']);
    expect(await media(urls.deskshare, 4)).toBe(0);
    expect(await media(urls.chat, 16)).toBe(0);
  });

  it('without keys of their own, deskshare and chat ride on an `all` socket next to the per-type sockets; a type out of scope is refused with 9–13', async () => {
    const { sim, st, urls, media } = await connected({ mediaScopes: ['audio', 'video', 'transcript', 'chat'] });
    expect(Object.keys(urls).sort()).toEqual(['all', 'audio', 'transcript', 'video']);
    expect(await media(urls.audio, 1)).toBe(0);
    expect(await media(urls.video, 2)).toBe(0);
    // No scope for deskshare: MEDIA_TYPE_DESKSHARE_NOT_SUPPORT, on `all` as asked alone or with chat.
    expect(await media(urls.all, 4 | 16)).toBe(11);
    expect(await media(urls.all, 4)).toBe(11);
    // Chat alone on `all` does not collide with the per-type sockets; audio on `all` would (16).
    expect(await media(urls.all, 1 | 16)).toBe(16);
    expect(await media(urls.all, 16)).toBe(0);
    expect(sim.record(st.streamId).live.media).toMatchObject({ all: 1, audio: 1, video: 1 });
    // Now `all` carries chat: a second `all` socket, or another socket for chat, is refused; transcript on its own URL is not.
    expect(await media(urls.all, 8)).toBe(15);
    expect(await media(urls.transcript, 8)).toBe(0);
  });
});
