/**
 * Codec 7 end to end from a client's side: the H.264 a client collects from msg 15/16, written
 * in order to a .h264 file, decodes without one error, and each decoded frame shows the
 * participant the sync contract says (docs/simulator.md): the frame with timestamp ≥ T shows
 * whoever became active speaker at T, whose tone starts at the sample of T in the audio.
 */
import { execFile } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { participantClip } from './h264';
import { ZoomSimulator } from './index';
import { content, JsonSocket, mediaHandshake, mediaUrls, signalingHandshake, type Msg } from './spec-client.spec-helper';

const run = promisify(execFile);
const creds = { clientId: 'rtms_h264_client', clientSecret: 'rtms_h264_secret' };
/** The fixtures' tints (scripts/make-h264-fixture.sh; slot = join order) and the screen's background. */
const TINT = { ann: [220, 60, 60], bob: [60, 160, 220], eve: [70, 190, 90], screen: [235, 235, 240] } as const;
/** Bob and Eve join (and speak) this long after Ann's video started, one after the other. */
const BOB_AFTER = 1000;
const EVE_AFTER = 1500;
const END_AFTER = 1100;

const W = 16;
const H = 9;

/** Decode a raw H.264 file: ffmpeg's error lines, and each frame's average RGB (decoded at 16×9). */
async function decode(file: string): Promise<{ errors: string; averages: number[][] }> {
  const check = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'h264', '-i', file, '-f', 'null', '-']);
  const raw = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'h264', '-i', file, '-vf', `scale=${W}:${H}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  const bytes = raw.stdout;
  const frame = W * H * 3;
  const averages: number[][] = [];
  for (let o = 0; o + frame <= bytes.length; o += frame) {
    const sum = [0, 0, 0];
    for (let i = 0; i < frame; i++) sum[i % 3] += bytes[o + i];
    averages.push(sum.map((v) => v / (W * H)));
  }
  return { errors: check.stderr + String(raw.stderr), averages };
}

/** Decoded frame count as ffprobe counts it. */
async function probeFrames(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-f', 'h264', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]);
  return Number(stdout.trim());
}

const nearest = (rgb: number[], tints: Record<string, readonly number[]>) =>
  Object.entries(tints)
    .map(([name, t]) => ({ name, d: Math.hypot(rgb[0] - t[0], rgb[1] - t[1], rgb[2] - t[2]) }))
    .sort((a, b) => a.d - b.d)[0];

describe('H.264 (codec 7) from the simulator decodes, and shows the speaker of each timestamp', () => {
  let sim: ZoomSimulator;
  let dir: string;
  const sockets: JsonSocket[] = [];

  beforeAll(async () => {
    // The load generator's pre-encoded path (the default): the access units go out as cached templates.
    sim = await ZoomSimulator.start({ ...creds, keepAliveIntervalMs: 1000, mediaEncoding: 'prebuilt' });
    dir = mkdtempSync(join(tmpdir(), 'sim-h264-'));
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('3 participants, 2 speaker changes, a share: every unit decodes, frames switch to the new tint at the first timestamp ≥ the switch, tones start at that sample', async () => {
    // Bob and Eve join as they start to speak, so each one's tone onset is the switch time.
    const m = sim.createMeeting({
      participants: [
        { userId: 1, name: 'Ann', speaks: [{ atMs: 0, text: 'hi', durationMs: 500 }], shares: [{ fromMs: 0, toMs: 60_000 }] },
        // Not there until the script below moves them in (the handshakes take a while on a busy machine).
        { userId: 2, name: 'Bob', joinAtMs: Infinity },
        { userId: 3, name: 'Eve', joinAtMs: Infinity },
      ],
    });
    const st = await sim.startRtms(m.id);
    const s = sim.stream(st.streamId)!;
    const ev = { meeting_uuid: s.meetingUuid, rtms_stream_id: s.streamId, server_urls: s.serverUrls };
    const sig = await signalingHandshake(creds, ev);
    sockets.push(sig.sock);
    const media = await mediaHandshake(creds, ev, mediaUrls(sig.resp).all, 32, {
      audio: { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: 2, send_rate: 20 },
      video: { content_type: 3, codec: 7, resolution: 2, data_opt: 3, fps: 30 },
      deskshare: { content_type: 3, codec: 7, resolution: 2, fps: 15 },
    });
    sockets.push(media.sock);
    expect(media.resp.status_code).toBe(0);
    sig.sock.send({ msg_type: 7, rtms_stream_id: st.streamId });
    const t0 = m.createdAt;
    await media.sock.next(15, 10_000);
    const live = sim.meeting(m.id)!;
    const BOB_AT = Math.ceil(live.now()) + BOB_AFTER;
    const EVE_AT = BOB_AT + EVE_AFTER;
    Object.assign(live.find(2)!, { joinAtMs: BOB_AT, speaks: [{ atMs: BOB_AT, text: 'me now', durationMs: 500 }] });
    Object.assign(live.find(3)!, { joinAtMs: EVE_AT, speaks: [{ atMs: EVE_AT, text: 'and me', durationMs: 500 }] });
    await media.sock.until(() => media.sock.msgs.some((x) => x.msg_type === 15 && Number(content(x).timestamp) >= t0 + EVE_AT + END_AFTER), 15_000, 'video past the end');

    const all = media.sock.msgs.map((x: Msg): Record<string, unknown> => ({ type: x.msg_type, ...content(x) }));
    const video = all.filter((x) => x.type === 15);
    // There is Ann's video to switch from.
    expect(Number(video[0].timestamp)).toBeLessThan(t0 + BOB_AT - 500);
    const expectedUser = (ts: number) => (ts >= t0 + EVE_AT ? 3 : ts >= t0 + BOB_AT ? 2 : 1);
    video.forEach((v) => expect(v.user_id).toBe(expectedUser(Number(v.timestamp))));
    for (const v of video) expect(Buffer.from(String(v.data), 'base64').length).toBe(v.length);
    // Timestamps step by 1000/30 ms (rounded), one access unit per message.
    for (let i = 1; i < video.length; i++) expect(Number(video[i].timestamp) - Number(video[i - 1].timestamp)).toBeGreaterThanOrEqual(33);

    const file = join(dir, 'video.h264');
    writeFileSync(file, Buffer.concat(video.map((v) => Buffer.from(String(v.data), 'base64'))));
    const { errors, averages } = await decode(file);
    expect(errors).toBe('');
    expect(await probeFrames(file)).toBe(video.length);
    expect(averages).toHaveLength(video.length);
    const names = { 1: 'ann', 2: 'bob', 3: 'eve' } as const;
    const seen = averages.map((rgb) => nearest(rgb, { ann: TINT.ann, bob: TINT.bob, eve: TINT.eve }));
    seen.forEach((got, i) => {
      expect(got.name).toBe(names[expectedUser(Number(video[i].timestamp)) as 1 | 2 | 3]);
      expect(got.d).toBeLessThan(25);
    });
    // The first frame of each speaker is an entry point: SPS (7) + PPS (8) + IDR (5).
    for (const at of [BOB_AT, EVE_AT]) {
      const first = video.find((v) => Number(v.timestamp) >= t0 + at)!;
      expect([...Buffer.from(String(first.data), 'base64').subarray(0, 5)]).toEqual([0, 0, 0, 1, 0x67]);
    }

    // Audio: Bob's and Eve's tones start at the sample of their switch time.
    for (const [userId, at] of [[2, BOB_AT], [3, EVE_AT]] as const) {
      const packets = all.filter((x) => x.type === 14 && x.user_id === userId);
      const firstPacket = packets[0];
      const offset = ((t0 + at - Number(firstPacket.timestamp)) * 16000) / 1000;
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(320);
      const pcm = Buffer.from(String(firstPacket.data), 'base64');
      const samples = Array.from({ length: pcm.length / 2 }, (_, i) => pcm.readInt16LE(i * 2));
      expect(samples.slice(0, offset).every((v) => v === 0)).toBe(true);
      expect(Math.max(...samples.slice(offset, offset + 40).map(Math.abs))).toBeGreaterThan(2000);
    }

    // Deskshare (msg 16): the screen loop, decodable on its own.
    const share = all.filter((x) => x.type === 16);
    expect(share.length).toBeGreaterThan(10);
    const shareFile = join(dir, 'share.h264');
    writeFileSync(shareFile, Buffer.concat(share.map((v) => Buffer.from(String(v.data), 'base64'))));
    const decodedShare = await decode(shareFile);
    expect(decodedShare.errors).toBe('');
    expect(decodedShare.averages).toHaveLength(share.length);
    for (const rgb of decodedShare.averages) expect(nearest(rgb, TINT).name).toBe('screen');
  });

  it('a media socket that reconnects mid-meeting resumes where the clock is (often mid-GOP), not at an IDR', async () => {
    const m = sim.createMeeting({ participants: [{ userId: 7, name: 'Ann' }] });
    const st = await sim.startRtms(m.id);
    const s = sim.stream(st.streamId)!;
    const ev = { meeting_uuid: s.meetingUuid, rtms_stream_id: s.streamId, server_urls: s.serverUrls };
    const sig = await signalingHandshake(creds, ev);
    sockets.push(sig.sock);
    const params = { video: { content_type: 3, codec: 7, resolution: 2, data_opt: 3, fps: 30 } };
    const first = await mediaHandshake(creds, ev, mediaUrls(sig.resp).video, 2, params);
    sockets.push(first.sock);
    sig.sock.send({ msg_type: 7, rtms_stream_id: st.streamId });
    await first.sock.until(() => first.sock.count(15) >= 10, 10_000, '10 frames');
    sim.faults.dropMedia(st.streamId, { path: 'video' });
    await first.sock.closed();
    // The client comes back 300 ms of meeting time later: ~9 frames the live stream went on without it.
    const droppedAt = m.createdAt + sim.meeting(m.id)!.now();
    await sim.waitFor(() => m.createdAt + sim.meeting(m.id)!.now() >= droppedAt + 300, 5000);
    const second = await mediaHandshake(creds, ev, mediaUrls(sig.resp).video, 2, params);
    sockets.push(second.sock);
    sig.sock.send({ msg_type: 7, rtms_stream_id: st.streamId });
    await second.sock.until(() => second.sock.count(15) >= 3, 10_000, 'frames after the reconnect');

    // Which unit of Ann's loop each message carried (the 30 units are all different).
    const unitOf = new Map(participantClip(0).units.map((u, i) => [u.base64, i]));
    expect(unitOf.size).toBe(30);
    const frames = (sock: JsonSocket) => sock.msgs.filter((x) => x.msg_type === 15).map((x) => ({ ts: Number(content(x).timestamp), unit: unitOf.get(String(content(x).data)) }));
    const before = frames(first.sock);
    const after = frames(second.sock);
    // Before the drop: from the IDR, in order.
    before.forEach((f, i) => expect(f.unit).toBe(i % 30));
    // After: the units the clock ran through while no socket was there are skipped, then in order again.
    const last = before[before.length - 1];
    const missed = Math.round((after[0].ts - last.ts) / (1000 / 30));
    expect(missed).toBeGreaterThanOrEqual(9);
    expect(after[0].unit).toBe((last.unit! + missed) % 30);
    after.forEach((f, i) => expect(f.unit).toBe((after[0].unit! + i) % 30));
  });
});
