import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { QueueName } from '../src/jobs/queue-names';
import { toneHz } from '../src/simulator/media';
import { createSession } from './factories/session.factory';
import { launchChromium } from './utils/chromium';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { ffprobe } from './utils/h264-fixtures';
import { decodeMonoPcm, toneBlocks, toneOnsetMs } from './utils/media-analysis';
import type { EntrypointProcess } from './utils/processes';
import { streamOwnership } from './utils/stream-ownership';
import { API_KEY } from './utils/test-app';
import { waitFor } from './utils/wait-for';

jest.setTimeout(240_000);

const FPS = 25;
const ANN = 7301;
const BOB = 7302;
const EVE = 7303;
/** The simulator's H.264 tints (docs/simulator.md) of slots 0, 1, 2. */
const TINTS: Array<[number, number, number]> = [
  [220, 60, 60],
  [60, 160, 220],
  [70, 190, 90],
];
const POLICY = { media_types: ['audio', 'video'], video: { format: 'h264', fps: FPS }, audio: { mode: 'mixed', segment_seconds: 2 } };

/** Average RGB of every decoded frame of the file's video, in presentation order. */
function frameAverages(file: string): Array<[number, number, number]> {
  const raw = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-map', '0:v:0', '-vf', 'scale=1:1:flags=area', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { maxBuffer: 64 * 1024 * 1024 });
  const out: Array<[number, number, number]> = [];
  for (let i = 0; i + 3 <= raw.length; i += 3) out.push([raw[i], raw[i + 1], raw[i + 2]]);
  return out;
}
const near = (c: [number, number, number], t: [number, number, number], tolerance = 30) => c.every((v, i) => Math.abs(v - t[i]) <= tolerance);

/**
 * The acceptance, end to end: a simulated 3-participant meeting with H.264 video
 * (active speaker) and mixed audio, captured by the hub, composed when it ends. Each
 * speaker joins as they start speaking, so their tone and their first frame start together.
 */
describe('Recording of a simulated meeting: H.264 + AAC, in sync, the meeting’s length, playable', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rtms-compose-meeting-'));
  });
  afterAll(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const ctx = useE2eContext({
    simulator: { speed: 1, keepAliveIntervalMs: 500 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams, QueueName.MediaFrames, QueueName.MediaCompose], explicit: true } },
    env: () => ({
      STORAGE_LOCAL_DIR: root,
      COMPOSE_RECORDINGS: 'true',
      COMPOSE_WIDTH: '640',
      COMPOSE_HEIGHT: '360',
      COMPOSE_FPS: String(FPS),
      MEDIA_BATCH_FLUSH_MS: '50',
      H264_SEGMENT_SECONDS: '2',
      AUDIO_SEGMENT_IDLE_FINALIZE_MS: '800',
    }),
  });

  it('3 speakers in turn → recording.mp4 (H.264 + AAC) within 1 s of the meeting, a speaker change in sync within 100 ms, Chromium plays it', async () => {
    const meeting = ctx.sim.createMeeting({
      participants: [
        { userId: ANN, name: 'Ann', joinAtMs: Infinity },
        { userId: BOB, name: 'Bob', joinAtMs: Infinity },
        { userId: EVE, name: 'Eve', joinAtMs: Infinity },
      ],
    });
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: POLICY });
    const { streamId } = await ctx.sim.startRtms(meeting.id);
    const live = ctx.sim.meeting(meeting.id)!;
    await waitFor(() => [...ctx.sim.stream(streamId)!.media.values()].some((c) => c.active && c.kinds.includes('video')), { timeoutMs: 30_000, what: 'video flowing to the hub' });
    // Script from now: each speaks 4 s alone (joins when they start, leaves when the next one starts).
    const t0 = live.now();
    const turns = [ANN, BOB, EVE].map((userId, i) => ({ userId, from: t0 + i * 4000, to: t0 + (i + 1) * 4000 }));
    for (const t of turns) Object.assign(live.find(t.userId)!, { joinAtMs: t.from, leaveAtMs: t.userId === EVE ? undefined : t.to, speaks: [{ atMs: t.from, text: 'my turn', durationMs: 3900 }] });
    await waitFor(() => live.now() >= t0 + 12_500, { timeoutMs: 30_000, what: 'the end of the script' });
    ctx.sim.endMeeting(meeting.id);

    const done = await waitFor(
      async () => (await query<{ compose_state: string; event_id: string | null }>(ctx.hub.app, `SELECT compose_state, event_id FROM recording_completions WHERE session_id = $1 AND compose_state <> 'pending'`, [sessionId]))[0],
      { timeoutMs: 120_000, what: 'the composed recording announced' },
    );
    expect(done.compose_state).toBe('done');
    const [session] = await query<{ started_at: Date; ended_at: Date }>(ctx.hub.app, `SELECT started_at, ended_at FROM sessions WHERE id = $1`, [sessionId]);
    const [recording] = await query<{ id: string; duration_ms: number; captured_at: Date }>(ctx.hub.app, `SELECT id, duration_ms, captured_at FROM media_artifacts WHERE session_id = $1 AND kind = 'recording'`, [sessionId]);
    const file = path.join(root, 'meeting.mp4');
    await fs.writeFile(file, Buffer.from(await (await fetch(`${ctx.hub.baseUrl}/api/v1/artifacts/${recording.id}/content`, { headers: { 'x-api-key': API_KEY } })).arrayBuffer()));

    const probe = await ffprobe(file);
    expect(probe.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    const meetingMs = new Date(session.ended_at).getTime() - new Date(session.started_at).getTime();
    expect(Math.abs(Number(probe.format.duration) * 1000 - meetingMs)).toBeLessThanOrEqual(1000);

    // Bob's turn: his tone's onset and his first frame, in the recording's own time.
    const origin = new Date(recording.captured_at).getTime();
    const onset = toneOnsetMs(toneBlocks(decodeMonoPcm(file), [toneHz(0), toneHz(1), toneHz(2)]), 1);
    const frames = frameAverages(file);
    const firstBob = frames.findIndex((c) => near(c, TINTS[1]));
    expect(onset).toBeGreaterThan(0);
    expect(firstBob).toBeGreaterThan(0);
    const frameMs = (firstBob * 1000) / FPS;
    console.log(`meeting recording: ${Number(probe.format.duration).toFixed(3)} s for a ${meetingMs} ms session; Bob's tone at ${onset} ms, his first frame at ${frameMs} ms`);
    expect(Math.abs(onset - frameMs)).toBeLessThanOrEqual(100);
    // And where the script put it (Bob's join on the meeting clock).
    expect(Math.abs(onset - (live.epoch(turns[1].from) - origin))).toBeLessThanOrEqual(100);

    const chromium = await launchChromium();
    try {
      const page = await (await chromium.newContext({ extraHTTPHeaders: { 'x-api-key': API_KEY } })).newPage();
      await page.goto(`${ctx.hub.baseUrl}/health/live`);
      await page.setContent(`<video id="v" muted preload="auto" src="/api/v1/artifacts/${recording.id}/content"></video>`);
      const v = `document.getElementById('v')`;
      const duration = await page.waitForFunction(`Number.isFinite(${v}.duration) && ${v}.duration > 0 ? ${v}.duration : null`, undefined, { timeout: 20_000 });
      expect(Math.abs(Number(await duration.jsonValue()) * 1000 - meetingMs)).toBeLessThanOrEqual(1000);
      await page.evaluate(`${v}.play()`);
      await page.waitForFunction(`${v}.currentTime > 0.5`, undefined, { timeout: 20_000 });
    } finally {
      await chromium.close();
    }
  });
});

/**
 * The crash variant: the stream runs in real worker processes; its owner is SIGKILLed
 * mid-meeting and another worker takes the stream over. The recording still comes, plays,
 * lasts the meeting, and records the hole the crash left.
 */
describe('Recording of a simulated meeting whose stream worker is SIGKILLed mid-meeting', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rtms-compose-kill-'));
  });
  afterAll(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const ctx = useE2eContext({
    simulator: { speed: 1, keepAliveIntervalMs: 500 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.MediaFrames, QueueName.MediaCompose], explicit: true } },
    env: () => ({
      STORAGE_LOCAL_DIR: root,
      COMPOSE_RECORDINGS: 'true',
      COMPOSE_WIDTH: '640',
      COMPOSE_HEIGHT: '360',
      COMPOSE_FPS: String(FPS),
      MEDIA_BATCH_FLUSH_MS: '50',
      H264_SEGMENT_SECONDS: '2',
      AUDIO_SEGMENT_IDLE_FINALIZE_MS: '800',
    }),
  });
  const workers: Array<EntrypointProcess & { ready: boolean }> = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const w = Object.assign(ctx.spawnWorker({ WORKER_QUEUES: QueueName.RtmsStreams, RTMS_RECONNECT_BASE_MS: '100', RTMS_RECONNECT_MAX_MS: '500' }), { ready: false });
      const onData = () => {
        if (!w.ready && w.output().includes('Consuming rtms-streams')) w.ready = true;
      };
      w.child.stdout?.on('data', onData);
      w.child.stderr?.on('data', onData);
      workers.push(w);
    }
    await waitFor(() => workers.every((w) => w.ready), { timeoutMs: 120_000, intervalMs: 200, what: 'two stream workers ready' });
  });
  const { owner, ownerPid } = streamOwnership(ctx);

  it('still yields a playable recording of the meeting’s length, with the crash’s hole recorded as a gap', async () => {
    const meeting = ctx.sim.createMeeting({ participants: [{ userId: ANN, name: 'Ann' }, { userId: BOB, name: 'Bob' }] });
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: POLICY });
    const { streamId } = await ctx.sim.startRtms(meeting.id);
    const live = ctx.sim.meeting(meeting.id)!;
    Object.assign(live.find(BOB)!, { speaks: [{ atMs: live.now(), text: 'a long talk', durationMs: 600_000 }] });
    const holder = (not: number[]) =>
      waitFor(async () => {
        const o = await owner(streamId);
        return o?.status === 'active' && !not.includes(ownerPid(o.owner_worker_id) ?? -1) ? workers.find((w) => w.pid === ownerPid(o.owner_worker_id)) : undefined;
      }, { timeoutMs: 60_000, intervalMs: 50, what: 'a worker holding the stream' });
    const victim = await holder([]);
    await waitFor(async () => ((await query(ctx.hub.app, `SELECT 1 FROM media_artifacts WHERE session_id = $1 AND kind = 'video_segment'`, [sessionId])).length > 0 ? true : undefined), { timeoutMs: 30_000, what: 'a first segment stored' });
    const killedAt = Date.now();
    await victim.stop('SIGKILL');
    await holder([victim.pid]);
    // Media flows again to the new owner for a few seconds, then the meeting ends.
    await waitFor(async () => ((await query(ctx.hub.app, `SELECT 1 FROM media_artifacts WHERE session_id = $1 AND kind = 'video_segment' AND captured_at > $2`, [sessionId, new Date(killedAt)])).length > 0 ? true : undefined), { timeoutMs: 60_000, what: 'segments from the new owner' });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    ctx.sim.endMeeting(meeting.id);

    const done = await waitFor(
      async () => (await query<{ compose_state: string }>(ctx.hub.app, `SELECT compose_state FROM recording_completions WHERE session_id = $1 AND compose_state <> 'pending'`, [sessionId]))[0],
      { timeoutMs: 150_000, what: 'the composed recording announced' },
    );
    expect(done.compose_state).toBe('done');
    const [session] = await query<{ started_at: Date; ended_at: Date }>(ctx.hub.app, `SELECT started_at, ended_at FROM sessions WHERE id = $1`, [sessionId]);
    const [recording] = await query<{ id: string; meta: { gaps: Array<{ from_ts: number; to_ts: number; reason: string }> } }>(ctx.hub.app, `SELECT id, meta FROM media_artifacts WHERE session_id = $1 AND kind = 'recording'`, [sessionId]);
    const file = path.join(root, 'killed.mp4');
    await fs.writeFile(file, Buffer.from(await (await fetch(`${ctx.hub.baseUrl}/api/v1/artifacts/${recording.id}/content`, { headers: { 'x-api-key': API_KEY } })).arrayBuffer()));
    const probe = await ffprobe(file);
    expect(probe.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    const meetingMs = new Date(session.ended_at).getTime() - new Date(session.started_at).getTime();
    expect(Math.abs(Number(probe.format.duration) * 1000 - meetingMs)).toBeLessThanOrEqual(1000);
    // The hole the crash left (media the killed worker had not flushed, until the takeover) is a gap around the kill.
    const around = recording.meta.gaps.filter((g) => g.from_ts <= killedAt + 500 && g.to_ts >= killedAt - 5000);
    console.log(`killed-worker recording: ${Number(probe.format.duration).toFixed(3)} s for a ${meetingMs} ms session; gaps ${JSON.stringify(recording.meta.gaps.map((g) => ({ ...g, from: g.from_ts - killedAt, to: g.to_ts - killedAt })))}`);
    expect(around.length).toBeGreaterThan(0);
    expect(around.some((g) => g.reason === 'interrupted' || g.reason === 'no_video')).toBe(true);
    // It decodes without an error from start to end.
    expect(execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBe('');

    const chromium = await launchChromium();
    try {
      const page = await (await chromium.newContext({ extraHTTPHeaders: { 'x-api-key': API_KEY } })).newPage();
      await page.goto(`${ctx.hub.baseUrl}/health/live`);
      await page.setContent(`<video id="v" muted preload="auto" src="/api/v1/artifacts/${recording.id}/content"></video>`);
      const v = `document.getElementById('v')`;
      await page.waitForFunction(`Number.isFinite(${v}.duration) && ${v}.duration > 0`, undefined, { timeout: 20_000 });
      await page.evaluate(`${v}.play()`);
      await page.waitForFunction(`${v}.currentTime > 0.5`, undefined, { timeout: 20_000 });
    } finally {
      await chromium.close();
    }
  });
});
