import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { RtmsMediaPump } from '../src/simulator/rtms-media-pump';
import type { ParticipantScript } from '../src/simulator/types';
import { createSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import type { EntrypointProcess } from './utils/processes';
import { streamOwnership } from './utils/stream-ownership';
import { API_KEY } from './utils/test-app';
import { waitFor, waitForQueuesIdle } from './utils/wait-for';

jest.setTimeout(240_000);

/**
 * H.264 capture end to end: the simulator plays meetings with `video.format: "h264"` at
 * 25 fps; real stream worker processes segment the video per speaker; the hub's savers
 * store the segments. Every stored frame is checked against what the simulator sent, and
 * a SIGKILLed owner must leave a gap, not a corrupt or duplicated segment.
 */
interface Artifact {
  id: string;
  kind: string;
  user_id: string;
  user_name: string | null;
  storage_key: string;
  content_type: string;
  bytes: number;
  sha256: string;
  captured_at: string;
  duration_ms: number | null;
  meta: { codec: string; frames: number; first_ts: number; last_ts: number; frame_ts: number[]; width?: number; height?: number };
}

interface Sent {
  kind: string;
  userId: number;
  ts: number;
  payload: Buffer;
  /** Which media connection sent it (1, 2, … in order of first use). */
  conn: number;
  /** When the simulator sent it (wall clock). */
  at: number;
}

interface KeyframeWait {
  user_id: string;
  kind: string;
  cause: string;
  dropped_units: number;
  waited_ms: number;
  ended: string;
  created_at: Date;
}

const SPEED = 2;
const FPS = 25;
const ANN = 201;
const BOB = 202;
const EVE = 203;
const POLICY = { media_types: ['video', 'deskshare'], video: { format: 'h264', fps: FPS, resolution: 'hd' }, deskshare: { format: 'h264', fps: 10 } };

/** NAL unit types of an Annex-B buffer, in order (written from the H.264 spec, not the hub's parser). */
function nalTypes(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      out.push(buf[i + 3] & 0x1f);
      i += 2;
    }
  }
  return out;
}
const isKeyframe = (payload: Buffer) => nalTypes(payload).includes(5);

/** ffprobe decodes every frame of a raw H.264 file: the frames it read, the picture size, and whatever it said on stderr (errors). */
function ffprobe(file: string): Promise<{ frames: number; width: number; height: number; errors: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      'ffprobe',
      ['-v', 'error', '-f', 'h264', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height', '-of', 'json', file],
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`ffprobe ${file}: ${err.message}\n${stderr}`));
        const stream = (JSON.parse(stdout) as { streams: Array<{ nb_read_frames: string; width: number; height: number }> }).streams[0];
        resolve({ frames: Number(stream.nb_read_frames), width: stream.width, height: stream.height, errors: stderr.trim() });
      },
    );
  });
}

interface Worker extends EntrypointProcess {
  ready: boolean;
}

describe('H.264 capture: segments per speaker, stored durably, a worker crash leaves a gap and nothing worse', () => {
  let root: string;
  const sent: Sent[] = [];
  const conns = new WeakMap<object, number>();
  let nextConn = 1;
  type MediaFn = (s: unknown, c: object, kind: string, content: Record<string, unknown>, userId: number) => void;
  const pump = RtmsMediaPump.prototype as unknown as { media: MediaFn };
  const originalMedia = pump.media;

  beforeAll(async () => {
    pump.media = function (this: unknown, s, c, kind, content, userId) {
      // Only what the simulator really sends (it skips a socket no longer open, as its record does).
      if ((kind === 'video' || kind === 'deskshare') && (c as { ws: { readyState: number } }).ws.readyState === 1) {
        if (!conns.has(c)) conns.set(c, nextConn++);
        sent.push({ kind, userId, ts: Number(content.timestamp), payload: Buffer.from(String(content.data), 'base64'), conn: conns.get(c)!, at: Date.now() });
      }
      originalMedia.call(this, s, c, kind, content, userId);
    };
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'h264-capture-'));
  });

  // API, zoom-events and the savers (media-frames) here; the streams run in real worker processes.
  const ctx = useE2eContext({
    simulator: { speed: SPEED, keepAliveIntervalMs: 500 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.MediaFrames], explicit: true } },
    env: () => ({ STORAGE_LOCAL_DIR: root, MEDIA_BATCH_FLUSH_MS: '50', H264_SEGMENT_SECONDS: '2' }),
  });
  const workers: Worker[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const w: Worker = Object.assign(ctx.spawnWorker({ WORKER_QUEUES: QueueName.RtmsStreams, RTMS_RECONNECT_BASE_MS: '100', RTMS_RECONNECT_MAX_MS: '500' }), { ready: false });
      const onData = () => {
        if (!w.ready && w.output().includes('Consuming rtms-streams')) w.ready = true;
      };
      w.child.stdout?.on('data', onData);
      w.child.stderr?.on('data', onData);
      workers.push(w);
    }
    try {
      await waitFor(() => workers.every((w) => w.ready), { timeoutMs: 120_000, intervalMs: 200, what: 'three stream workers ready' });
    } catch (err) {
      throw new Error(`${String(err)}\n${workers.map((w) => w.output().slice(-2000)).join('\n----\n')}`);
    }
  });

  afterAll(async () => {
    pump.media = originalMedia;
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const { owner, ownerPid } = streamOwnership(ctx);
  const api = () => request(ctx.hub.app.getHttpServer());

  async function artifacts(sessionId: string): Promise<Artifact[]> {
    const all: Artifact[] = [];
    let cursor: string | null = null;
    do {
      const res = await api().get(`/api/v1/sessions/${sessionId}/artifacts?limit=500${cursor ? `&cursor=${cursor}` : ''}`).set('x-api-key', API_KEY).expect(200);
      all.push(...(res.body.data as Artifact[]));
      cursor = res.body.next_cursor as string | null;
    } while (cursor);
    return all;
  }

  async function keyframeWaits(sessionId: string): Promise<KeyframeWait[]> {
    const rows = await query<{ payload: Omit<KeyframeWait, 'created_at'>; created_at: Date }>(
      ctx.hub.app,
      `SELECT payload, created_at FROM session_events WHERE session_id = $1 AND event_type = 'video.keyframe_wait' ORDER BY created_at`,
      [sessionId],
    );
    return rows.map((r) => ({ ...r.payload, created_at: new Date(r.created_at) }));
  }

  /** Waits for the stream job to end and the savers to drain. */
  async function settled(streamId: string): Promise<void> {
    await waitFor(async () => ((await ctx.hub.producer.queueFor(JobName.StreamRun).getJob(streamId))?.finishedOn ? true : undefined), { timeoutMs: 30_000, what: 'the stream job to finish' });
    const mediaQueue = ctx.hub.producer.queue(QueueName.MediaFrames);
    await waitForQueuesIdle([mediaQueue], { timeoutMs: 20_000 });
    expect((await mediaQueue.getJobCounts('failed')).failed).toBe(0);
  }

  /**
   * Checks every segment of a session against what the simulator sent: one object per row
   * under a unique key, starting SPS+PPS+IDR, its bytes exactly the payloads sent at its
   * frame timestamps, frames in order and never stored twice. Returns the stored frame
   * timestamps per kind and user.
   */
  async function checkSegments(sessionId: string, streamSent: Sent[]): Promise<{ arts: Artifact[]; stored: Map<string, number[]> }> {
    const arts = (await artifacts(sessionId)).filter((a) => a.kind === 'video_segment' || a.kind === 'share_segment');
    expect(new Set(arts.map((a) => a.storage_key)).size).toBe(arts.length);
    const stored = new Map<string, number[]>();
    for (const a of arts) {
      const kind = a.kind === 'video_segment' ? 'video' : 'deskshare';
      const bytes = await fs.readFile(path.join(root, a.storage_key));
      expect(a.content_type).toBe('video/h264');
      expect(a.bytes).toBe(bytes.length);
      expect(nalTypes(bytes).slice(0, 3)).toEqual([7, 8, 5]);
      expect(a.storage_key).toMatch(new RegExp(`/${kind === 'video' ? 'video' : 'deskshare'}-segments/[^/]+_${a.user_id}/${a.meta.first_ts}\\.h264$`));
      expect(a.meta).toMatchObject({ codec: 'h264', frames: a.meta.frame_ts.length, width: 640, height: 360 }); // the simulator's fixtures are 640×360
      expect(Date.parse(a.captured_at)).toBe(a.meta.first_ts);
      expect(a.meta.frame_ts[0]).toBe(0);
      expect(a.meta.last_ts).toBe(a.meta.first_ts + a.meta.frame_ts[a.meta.frame_ts.length - 1]);
      expect(a.duration_ms).toBe(Math.round(a.meta.last_ts - a.meta.first_ts + 1000 / (kind === 'video' ? FPS : 10)));
      // The object is the sent payloads at its frame timestamps, in order (the simulator writes 4-byte start codes, as the hub does).
      const mine = streamSent.filter((s) => s.kind === kind && String(s.userId) === a.user_id);
      const payloads = a.meta.frame_ts.map((off) => mine.find((s) => s.ts === a.meta.first_ts + off));
      expect(payloads.every(Boolean)).toBe(true);
      expect(Buffer.concat(payloads.map((p) => p!.payload)).equals(bytes)).toBe(true);
      // Each segment decodes alone, without a single error, into exactly its frames, at the size its meta says.
      const probe = await ffprobe(path.join(root, a.storage_key));
      expect({ key: a.storage_key, ...probe }).toEqual({ key: a.storage_key, frames: a.meta.frames, width: a.meta.width, height: a.meta.height, errors: '' });
      const k = `${kind}:${a.user_id}`;
      stored.set(k, [...(stored.get(k) ?? []), ...a.meta.frame_ts.map((off) => a.meta.first_ts + off)]);
    }
    // A participant's segments concatenated in captured_at order are one playable stream: zero errors, every frame.
    for (const [k, ts] of stored) {
      const [kind, user] = k.split(':');
      const mine = arts.filter((a) => a.kind === (kind === 'video' ? 'video_segment' : 'share_segment') && a.user_id === user).sort((x, y) => x.meta.first_ts - y.meta.first_ts);
      const joined = path.join(root, `joined-${sessionId}-${kind}-${user}.h264`);
      await fs.writeFile(joined, Buffer.concat(await Promise.all(mine.map((a) => fs.readFile(path.join(root, a.storage_key))))));
      expect({ k, ...(await ffprobe(joined)) }).toMatchObject({ k, frames: ts.length, errors: '' });
    }
    // No frame stored twice; each participant's frames in time order across segments.
    for (const ts of stored.values()) {
      const sorted = [...ts].sort((x, y) => x - y);
      expect(new Set(ts).size).toBe(ts.length);
      expect(sorted).toEqual(ts.slice().sort((x, y) => x - y));
    }
    return { arts, stored };
  }

  it('refuses h264 below 6 fps (Zoom would send JPG) with invalid_capture_policy', async () => {
    const res = await api().post('/api/v1/sessions').set('x-api-key', API_KEY).send({ platform: 'zoom', meeting_id: '123456789', capture_policy: { video: { format: 'h264', fps: 5 } } }).expect(400);
    expect(res.body.error).toBe('invalid_capture_policy');
    await api().post('/api/v1/sessions').set('x-api-key', API_KEY).send({ platform: 'zoom', meeting_id: '123456789', capture_policy: { video: { format: 'h264', fps: 31 } } }).expect(400);
  });

  it('3 participants, speaker changes: segments per speaker, every frame sent is stored or counted as a keyframe wait', async () => {
    const script: ParticipantScript[] = [
      { userId: ANN, name: 'Ann', joinAtMs: Infinity, speaks: [{ atMs: 13_000, text: 'back to me', durationMs: 1000 }], shares: [{ fromMs: 9000, toMs: 12_000 }] },
      { userId: BOB, name: 'Bob', joinAtMs: Infinity, speaks: [{ atMs: 4000, text: 'Bob here', durationMs: 1000 }] },
      { userId: EVE, name: 'Eve', joinAtMs: Infinity, speaks: [{ atMs: 8000, text: 'Eve here', durationMs: 1000 }] },
    ];
    const meeting = ctx.sim.createMeeting({ participants: script.map((p) => ({ userId: p.userId, name: p.name, joinAtMs: Infinity })) });
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: POLICY });
    const { streamId } = await ctx.sim.startRtms(meeting.id);
    const live = ctx.sim.meeting(meeting.id)!;
    await waitFor(() => [...ctx.sim.stream(streamId)!.media.values()].some((c) => c.active && c.kinds.includes('video')), { timeoutMs: 30_000, what: 'video flowing to a worker' });
    // Everyone joins now; the script's times count from here.
    const t0 = live.now();
    for (const p of script) Object.assign(live.find(p.userId)!, { joinAtMs: t0, speaks: p.speaks?.map((l) => ({ ...l, atMs: t0 + l.atMs })), shares: p.shares?.map((w) => ({ fromMs: t0 + w.fromMs, toMs: t0 + w.toMs })) });
    await waitFor(() => live.now() >= t0 + 17_000, { timeoutMs: 30_000, what: 'the end of the script' });
    const firstConn = Math.min(...sent.filter((s) => s.ts >= live.epoch(t0)).map((s) => s.conn));
    ctx.sim.endMeeting(meeting.id);
    await settled(streamId);

    const streamSent = sent.filter((s) => s.conn === firstConn);
    const rec = ctx.sim.record(streamId);
    const { arts, stored } = await checkSegments(sessionId, streamSent);
    const waits = await keyframeWaits(sessionId);
    // Every speaker has segments; the share too.
    for (const user of [ANN, BOB, EVE]) expect(arts.filter((a) => a.kind === 'video_segment' && a.user_id === String(user)).length).toBeGreaterThanOrEqual(1);
    expect(arts.filter((a) => a.kind === 'share_segment' && a.user_id === String(ANN)).length).toBeGreaterThanOrEqual(1);
    // Sent vs stored, per kind and participant: each frame is in a segment or was dropped waiting for a keyframe.
    for (const kind of ['video', 'deskshare']) {
      for (const user of [ANN, BOB, EVE]) {
        const mine = streamSent.filter((s) => s.kind === kind && s.userId === user);
        if (kind === 'video') expect(mine).toHaveLength(Number(rec.messagesSent.byUser[String(user)]?.[15] ?? 0)); // the spy agrees with the simulator
        const storedN = stored.get(`${kind}:${user}`)?.length ?? 0;
        const dropped = waits.filter((w) => w.kind === kind && w.user_id === String(user)).reduce((n, w) => n + w.dropped_units, 0);
        expect({ kind, user, sent: mine.length, accounted: storedN + dropped }).toEqual({ kind, user, sent: mine.length, accounted: mine.length });
        // What was dropped is exactly the frames before each keyframe wait ended: never a keyframe with its parameter sets.
        const keptTs = new Set(stored.get(`${kind}:${user}`) ?? []);
        for (const s of mine.filter((m) => !keptTs.has(m.ts))) expect(isKeyframe(s.payload) && nalTypes(s.payload).includes(7)).toBe(false);
      }
    }
    // recording.ready counts the segments (the compose job starts from it).
    const ready = await waitFor(async () => (await query<{ counts: Record<string, number>; forced: boolean }>(ctx.hub.app, `SELECT counts, forced FROM recording_completions WHERE session_id = $1`, [sessionId]))[0], { timeoutMs: 30_000, what: 'recording.ready' });
    expect(ready).toMatchObject({ forced: false, counts: { video_segments: arts.filter((a) => a.kind === 'video_segment').length, share_segments: arts.filter((a) => a.kind === 'share_segment').length, video_frames: 0 } });
    const totals = { sent: streamSent.length, stored: [...stored.values()].reduce((n, t) => n + t.length, 0), dropped: waits.reduce((n, w) => n + w.dropped_units, 0) };
    console.log(`h264 capture: ${arts.length} segments, frames sent ${totals.sent} = stored ${totals.stored} + dropped in ${waits.length} keyframe wait(s) ${totals.dropped}`);
    expect(totals.stored).toBeGreaterThan(totals.dropped);
    // Segments are cut at the first keyframe once ≥ 2 s long: none is longer than 2 s + one GOP of the simulator (15 frames).
    for (const a of arts.filter((x) => x.kind === 'video_segment')) expect(a.meta.last_ts - a.meta.first_ts).toBeLessThan(2000 + (15 * 1000) / FPS);
  });

  it('SIGKILL of the owner mid-meeting leaves a gap (no duplicate, no corrupt segment); SIGTERM hands over with nothing lost; each new owner starts at a keyframe with its wait recorded once', async () => {
    const meeting = ctx.sim.createMeeting({ participants: [{ userId: ANN, name: 'Ann' }, { userId: BOB, name: 'Bob' }] });
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: POLICY });
    const connsBefore = nextConn - 1;
    const { streamId } = await ctx.sim.startRtms(meeting.id);
    const live = ctx.sim.meeting(meeting.id)!;
    // Bob speaks from now on: one speaker across the kill and the hand-over.
    Object.assign(live.find(BOB)!, { speaks: [{ atMs: live.now(), text: 'a long talk', durationMs: 600_000 }] });
    const activeOwner = (not: number[]) =>
      waitFor(async () => {
        const o = await owner(streamId);
        return o?.status === 'active' && !not.includes(ownerPid(o.owner_worker_id) ?? -1) ? workers.find((w) => w.pid === ownerPid(o.owner_worker_id)) : undefined;
      }, { timeoutMs: 60_000, intervalMs: 50, what: 'a worker holding the stream' });
    /** The first media connection opened after connection `prev` (connections are numbered in order of first use). */
    const connAfter = (prev: number) => waitFor(() => {
      const later = sent.filter((s) => s.conn > prev).map((s) => s.conn);
      return later.length ? Math.min(...later) : undefined;
    }, { timeoutMs: 60_000, intervalMs: 50, what: `a media connection after #${prev}` });
    const videoOn = (conn: number) => sent.filter((s) => s.conn === conn && s.kind === 'video').length;

    const victim = await activeOwner([]);
    const connA = await connAfter(connsBefore);
    // Let Bob's video be segmented for a while: at least one segment stored.
    await waitFor(async () => ((await artifacts(sessionId)).some((a) => a.kind === 'video_segment' && a.user_id === String(BOB)) ? true : undefined), { timeoutMs: 30_000, what: "Bob's first segment stored" });

    // ── SIGKILL the holder ──
    await victim.stop('SIGKILL');
    const heir = await activeOwner([victim.pid]);
    const connB = await connAfter(connA);
    await waitFor(() => (videoOn(connB) >= 150 ? true : undefined), { timeoutMs: 60_000, intervalMs: 100, what: 'video flowing to the new owner' });

    // ── SIGTERM the new holder: it hands the stream over ──
    const termAt = Date.now();
    expect(await heir.stop('SIGTERM')).toBe(0);
    await activeOwner([victim.pid, heir.pid]);
    const connC = await connAfter(connB);
    await waitFor(() => (videoOn(connC) >= 150 ? true : undefined), { timeoutMs: 60_000, intervalMs: 100, what: 'video flowing to the third owner' });
    ctx.sim.endMeeting(meeting.id);
    await settled(streamId);

    expect(new Set([connA, connB, connC]).size).toBe(3);
    const streamSent = sent.filter((s) => [connA, connB, connC].includes(s.conn));
    const { arts, stored } = await checkSegments(sessionId, streamSent); // unique keys, every object whole and equal to what was sent
    const bobSent = (conn: number) => streamSent.filter((s) => s.kind === 'video' && s.userId === BOB && s.conn === conn);
    const bobStored = stored.get(`video:${BOB}`)!;
    const storedOn = (conn: number) => {
      const ts = new Set(bobSent(conn).map((s) => s.ts));
      return bobStored.filter((t) => ts.has(t));
    };
    const waits = await keyframeWaits(sessionId);

    // The gap: what the killed owner received after its last stored frame died with it.
    const storedA = storedOn(connA);
    expect(storedA.length).toBeGreaterThan(0);
    const lastA = Math.max(...storedA);
    const lostA = bobSent(connA).filter((s) => s.ts > lastA);
    expect(lostA.length).toBeGreaterThan(0);
    const firstB = Math.min(...storedOn(connB));
    expect(firstB).toBeGreaterThan(Math.max(...lostA.map((s) => s.ts)));
    // No segment spans the gap.
    for (const a of arts.filter((x) => x.kind === 'video_segment')) expect(a.meta.first_ts > lastA || a.meta.last_ts <= lastA).toBe(true);

    // Each new owner: its first segment starts at the first keyframe (with SPS/PPS) it received; the frames
    // before it are one recorded keyframe wait (none if it started at a keyframe); from there on every
    // frame is stored — B handed over (SIGTERM flushes its open segment), C saw the meeting end.
    const report: string[] = [];
    for (const [name, conn, nextAt] of [['B', connB, termAt], ['C', connC, Infinity]] as const) {
      const mine = bobSent(conn);
      const firstKey = mine.findIndex((s) => isKeyframe(s.payload) && nalTypes(s.payload).includes(7));
      expect(firstKey).toBeGreaterThanOrEqual(0);
      const waitsOf = waits.filter((w) => w.created_at.getTime() >= mine[0].at - 50 && w.created_at.getTime() < nextAt && w.kind === 'video' && w.user_id === String(BOB));
      if (firstKey === 0) expect(waitsOf).toEqual([]);
      else expect(waitsOf.map(({ cause, dropped_units, ended }) => ({ cause, dropped_units, ended }))).toEqual([{ cause: 'connect', dropped_units: firstKey, ended: 'keyframe' }]);
      expect({ owner: name, stored: storedOn(conn) }).toEqual({ owner: name, stored: mine.slice(firstKey).map((s) => s.ts) });
      report.push(`owner ${name} dropped ${firstKey} frame(s) before its first keyframe and stored ${mine.length - firstKey}`);
    }
    console.log(`h264 takeover: SIGKILL gap ${firstB - lastA} ms of Zoom time (${lostA.length} received frames lost with the killed worker); ${report.join('; ')}`);
  });
});
