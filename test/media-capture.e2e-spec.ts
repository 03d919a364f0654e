import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WebSocket } from 'ws';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { parseWav } from '../src/modules/media-ingest/savers/wav';
import { RtmsMediaPump } from '../src/simulator/rtms-media-pump';
import type { MediaKind } from '../src/simulator/protocol';
import type { ParticipantScript } from '../src/simulator/types';
import { createSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { playMeeting, waitingParticipants } from './utils/sim-script';
import { API_KEY } from './utils/test-app';
import { waitFor, waitForQueuesIdle } from './utils/wait-for';

/**
 * From a simulated meeting to files: the simulator plays a 3-participant meeting
 * (video, audio, screen share, transcript, chat; one participant named
 * `../../etc/passwd`), the hub (API + zoom-events, rtms-streams and media-frames workers
 * in one process) captures it under the session's capture policy, and every file is
 * checked against what the simulator recorded as sent.
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
  meta: Record<string, unknown> | null;
}

const SPEED = 4;
const ANN = 101;
const BOB = 102;
const EVE = 103; // the hostile name
const POLICY = {
  media_types: ['audio', 'video', 'deskshare', 'transcript', 'chat'],
  // 2 fps negotiated (fps = ceil(1000 / 600)): frames every 500 ms, so the 600 ms interval keeps every other one.
  video: { skip_first_frames: 2, interval_ms: 600, max_frames_per_user: 4 },
  // 5 fps negotiated: every frame after the first, at most 5.
  deskshare: { skip_first_frames: 1, interval_ms: 0, max_frames_per_user: 5 },
  audio: { mode: 'per_participant', segment_seconds: 2 },
  transcript: { enabled: true },
  chat: { enabled: true },
};
// Script times (meeting time; wall time = ÷ SPEED), counted from the moment the hub receives
// every kind of media: nobody is in the meeting before, so however late a loaded machine
// connects the hub, it sees the whole script (startScript).
const SPEECH = [
  { user: ANN, name: 'Ann', atMs: 8000, text: 'Welcome to the capture test.' },
  { user: BOB, name: 'Bob', atMs: 12000, text: 'Thanks Ann, I can hear you.' },
  { user: EVE, name: '../../etc/passwd', atMs: 16000, text: 'My files stay inside their folder.' },
];
const CHAT = [
  { user: ANN, atMs: 9000, text: 'agenda: capture' },
  { user: BOB, atMs: 13000, text: 'sounds good' },
  { user: EVE, atMs: 17000, text: '<script>alert(1)</script>' },
];
const END_MS = 22000;

/** What each participant does, from the script's start (the hub connected). */
const SCRIPT: ParticipantScript[] = [
  // Video is the active speaker's camera (data_opt 3): Ann (first camera, then speaking) until Bob speaks, then Bob until Eve speaks, then Eve — one contiguous run each.
  { userId: ANN, name: 'Ann', speaks: [{ atMs: 8000, text: SPEECH[0].text, durationMs: 1500 }], chat: [{ atMs: 9000, text: CHAT[0].text }], shares: [{ fromMs: 18000, toMs: 21000 }] },
  { userId: BOB, name: 'Bob', speaks: [{ atMs: 12000, text: SPEECH[1].text, durationMs: 1500 }], chat: [{ atMs: 13000, text: CHAT[1].text }] },
  { userId: EVE, name: '../../etc/passwd', joinAtMs: 6000, speaks: [{ atMs: 16000, text: SPEECH[2].text, durationMs: 1500 }], chat: [{ atMs: 17000, text: CHAT[2].text }] },
];

type FrameRule = { skip_first_frames: number; interval_ms: number; max_frames_per_user: number };

/**
 * The policy's frame sampling, written from the issue's wording (not the hub's code):
 * per user, skip the first N frames, then keep a frame if `interval_ms` has passed since
 * the last kept one, until `max_frames_per_user` are kept. Returns the kept timestamps.
 */
function expectedFrames(sentTimestamps: number[], rule: FrameRule): number[] {
  const kept: number[] = [];
  sentTimestamps.forEach((ts, i) => {
    if (i < rule.skip_first_frames) return;
    if (rule.max_frames_per_user > 0 && kept.length >= rule.max_frames_per_user) return;
    if (kept.length && ts - kept[kept.length - 1] < rule.interval_ms) return;
    kept.push(ts);
  });
  return kept;
}

interface SentMedia {
  kind: string;
  userId: number;
  timestamp: number;
}

describe('Media capture: simulated meeting → capture policy → files', () => {
  let root: string;
  // Every media message the simulator sends, in order (its record only keeps counts; the
  // sampling interval needs the Zoom timestamps, which drift when the event loop lags).
  const sentMedia: SentMedia[] = [];
  type MediaFn = (s: unknown, c: unknown, kind: string, content: Record<string, unknown>, userId: number) => void;
  const pump = RtmsMediaPump.prototype as unknown as { media: MediaFn };
  const originalMedia = pump.media;

  beforeAll(async () => {
    pump.media = function (this: unknown, s, c, kind, content, userId) {
      // Only what goes out: the pump still runs as the meeting ends, and the simulator sends
      // (and counts) nothing on a socket that is no longer open (rtms-connections.ts).
      if ((c as { ws: WebSocket }).ws.readyState === WebSocket.OPEN) sentMedia.push({ kind, userId, timestamp: Number(content.timestamp) });
      originalMedia.call(this, s, c, kind, content, userId);
    };
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'media-capture-'));
  });

  const ctx = useE2eContext({
    simulator: { speed: SPEED, videoScale: 0.25 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams, QueueName.MediaFrames], explicit: true } },
    env: () => ({ STORAGE_LOCAL_DIR: root, AUDIO_SEGMENT_IDLE_FINALIZE_MS: '800', MEDIA_BATCH_FLUSH_MS: '50' }),
  });

  afterAll(async () => {
    pump.media = originalMedia;
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const api = () => ctx.http();
  async function artifacts(sessionId: string): Promise<Artifact[]> {
    const all: Artifact[] = [];
    let cursor: string | null = null;
    do {
      const res = await api().get(`/api/v1/sessions/${sessionId}/artifacts?limit=100${cursor ? `&cursor=${cursor}` : ''}`).set('x-api-key', API_KEY).expect(200);
      all.push(...(res.body.data as Artifact[]));
      cursor = res.body.next_cursor as string | null;
    } while (cursor);
    return all;
  }

  it('keeps exactly the frames the policy says, WAV audio as long as the audio sent, the transcript in json/vtt/txt and the chat, each in its participant folder', async () => {
    // Everyone joins when the script starts (they are not there before).
    const meeting = ctx.sim.createMeeting({ participants: waitingParticipants(SCRIPT) });
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: POLICY });
    const stream = await ctx.sim.startRtms(meeting.id);
    const id = stream.streamId;

    // The script starts once the hub receives every kind of media it asked for, then the
    // meeting ends: the stream stops with reason 6 (MEETING_ENDED).
    await playMeeting(ctx.sim, meeting.id, id, SCRIPT, POLICY.media_types as MediaKind[], END_MS);

    // The meeting ends by itself; the stream job completes and the savers drain.
    const job = await waitFor(async () => ((await ctx.hub.producer.queueFor(JobName.StreamRun).getJob(id))?.finishedOn ? true : undefined), {
      timeoutMs: 20000,
      what: 'the stream job to finish',
    });
    expect(job).toBe(true);
    const rec = ctx.sim.record(id);
    expect(rec.state).toBe('terminated');
    expect(rec.stopReason).toBe(6);
    const sent = rec.messagesSent.byUser;
    const sentOf = (user: number, type: number) => sent[String(user)]?.[type] ? Number(sent[String(user)][type]) : 0;
    const mediaQueue = ctx.hub.producer.queue(QueueName.MediaFrames);
    await waitFor(
      async () => {
        await waitForQueuesIdle([mediaQueue], { timeoutMs: 15000 });
        const open = await query<{ n: string }>(ctx.hub.app, `SELECT count(*)::text AS n FROM audio_segments WHERE session_id = $1 AND status = 'open'`, [sessionId]);
        return open[0].n === '0';
      },
      { timeoutMs: 15000, what: 'savers drained and audio segments written' },
    );
    expect((await mediaQueue.getJobCounts('failed')).failed).toBe(0);
    const arts = await artifacts(sessionId);
    const of = (kind: string, user: number) => arts.filter((a) => a.kind === kind && a.user_id === String(user)).sort((a, b) => a.captured_at.localeCompare(b.captured_at));

    const sentFrames = (kind: string, user: number) => sentMedia.filter((m) => m.kind === kind && m.userId === user).map((m) => m.timestamp);
    const keptTs = (kind: string, user: number) => of(kind, user).map((a) => Date.parse(a.captured_at));

    // Video (active speaker, 2 fps): skip 2 per user, then one frame per 600 ms, at most 4.
    for (const user of [ANN, BOB, EVE]) {
      const frames = sentFrames('video', user);
      expect(frames).toHaveLength(sentOf(user, 15)); // the spy agrees with the simulator's record
      expect(frames.length).toBeGreaterThanOrEqual(3); // the run outlasts the skip (exact numbers depend on event-loop lag; the reference uses the real timestamps)
      const expected = expectedFrames(frames, POLICY.video);
      expect({ user, sent: frames.length, kept: keptTs('video_frame', user) }).toEqual({ user, sent: frames.length, kept: expected });
      for (const f of of('video_frame', user)) {
        expect(f.content_type).toBe('image/jpeg');
        expect(f.storage_key.endsWith(`/${Date.parse(f.captured_at)}.jpg`)).toBe(true);
      }
    }
    // Ann is on camera from the start to Bob's first word: the max binds.
    expect(of('video_frame', ANN)).toHaveLength(4);
    // The interval was applied: no two kept frames closer than 600 ms (frames come every 500 ms).
    for (const user of [ANN, BOB, EVE]) {
      const ts = keptTs('video_frame', user);
      for (let i = 1; i < ts.length; i++) expect(ts[i] - ts[i - 1]).toBeGreaterThanOrEqual(600);
    }

    // Screen share: Ann's 3 s at 5 fps; skip 1, no interval, at most 5.
    const share = sentFrames('deskshare', ANN);
    expect(share).toHaveLength(sentOf(ANN, 16));
    expect(share.length).toBeGreaterThanOrEqual(2);
    expect(keptTs('share_frame', ANN)).toEqual(expectedFrames(share, POLICY.deskshare));
    expect(of('share_frame', ANN)).toHaveLength(Math.min(5, share.length - 1));
    expect(arts.filter((a) => a.kind === 'share_frame' && a.user_id !== String(ANN))).toHaveLength(0);

    // Audio: per participant WAV segments (2 s); total duration = packets sent × 100 ms (± 1 packet).
    for (const user of [ANN, BOB, EVE]) {
      const wavs = of('audio_segment', user);
      expect(wavs.length).toBeGreaterThanOrEqual(2);
      let totalMs = 0;
      for (const w of wavs) {
        const info = parseWav(await fs.readFile(path.join(root, w.storage_key)));
        expect(info).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16 });
        expect(info.durationMs).toBeLessThanOrEqual(2000);
        expect(w.duration_ms).toBe(Math.round(info.durationMs));
        totalMs += info.durationMs;
      }
      const sentMs = sentOf(user, 14) * 100;
      expect(Math.abs(totalMs - sentMs)).toBeLessThanOrEqual(100);
    }

    // Transcript: the script's speech lines, in order, in all three formats.
    expect(rec.messagesSent.byType[17]).toBe(3);
    const json = await api().get(`/api/v1/sessions/${sessionId}/transcript?format=json`).set('x-api-key', API_KEY).expect(200);
    expect((json.body.data as Array<{ user_id: string; user_name: string; text: string }>).map((l) => [Number(l.user_id), l.user_name, l.text])).toEqual(
      SPEECH.map((s) => [s.user, s.name, s.text]),
    );
    const vtt = await api().get(`/api/v1/sessions/${sessionId}/transcript?format=vtt`).set('x-api-key', API_KEY).expect(200);
    expect(vtt.headers['content-type']).toMatch(/^text\/vtt/);
    expect(vtt.text.startsWith('WEBVTT')).toBe(true);
    const cues = vtt.text.split('\n').filter((l) => l.includes('-->'));
    expect(cues).toHaveLength(3);
    for (const s of SPEECH) expect(vtt.text).toContain(s.text);
    const txt = await api().get(`/api/v1/sessions/${sessionId}/transcript?format=txt`).set('x-api-key', API_KEY).expect(200);
    expect(txt.text.trim().split('\n').map((l) => l.replace(/^\[\d\d:\d\d:\d\d\] /, ''))).toEqual(SPEECH.map((s) => `${s.name}: ${s.text}`));

    // Chat: one document per message sent, with its text.
    for (const c of CHAT) {
      expect(sentOf(c.user, 18)).toBe(1);
      const docs = of('chat', c.user);
      expect(docs).toHaveLength(1);
      const body = await api().get(`/api/v1/artifacts/${docs[0].id}/content`).set('x-api-key', API_KEY).expect(200);
      expect(JSON.stringify(body.body ?? body.text)).toContain(JSON.stringify(c.text).slice(1, -1));
    }

    // Files: each under {session}/{kind}/{name}_{id}/, inside the root, bytes as recorded.
    const folderKind: Record<string, string> = { video_frame: 'video', share_frame: 'deskshare', audio_segment: 'audio', chat: 'chat' };
    expect(arts.length).toBeGreaterThan(0);
    for (const a of arts) {
      const parts = a.storage_key.split('/');
      expect(parts).toHaveLength(4);
      expect(parts[0]).toBe(sessionId);
      expect(parts[1]).toBe(folderKind[a.kind]);
      expect(parts[2]).toMatch(new RegExp(`^[^/\\\\]+_${a.user_id}$`));
      expect(parts[2].startsWith('.')).toBe(false);
      const file = path.resolve(root, a.storage_key);
      expect(file.startsWith(path.join(root, sessionId, parts[1]) + path.sep)).toBe(true);
      expect((await fs.stat(file)).size).toBe(a.bytes);
    }
    const eveFolders = new Set(arts.filter((a) => a.user_id === String(EVE)).map((a) => a.storage_key.split('/')[2]));
    expect(eveFolders.size).toBe(1);
    expect([...eveFolders][0]).not.toContain('..');
    // Nothing was written outside the session's folder.
    const top = await fs.readdir(root);
    expect(top.filter((e) => !e.startsWith('.'))).toEqual([sessionId]);
    const onDisk = (await fs.readdir(path.join(root, sessionId), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
    expect(onDisk).toBe(arts.length);
  }, 45000);
});
