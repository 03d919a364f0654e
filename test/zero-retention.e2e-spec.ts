import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import type { MediaKind } from '../src/simulator/protocol';
import type { ParticipantScript } from '../src/simulator/types';
import { RtmsMessageType } from '../src/zoom/rtms-enums';
import { createSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { LiveTestClient } from './utils/live-test-client';
import { playMeeting, waitingParticipants } from './utils/sim-script';
import { API_KEY } from './utils/test-app';
import { waitFor } from './utils/wait-for';

jest.setTimeout(120_000);

/**
 * Zero retention end to end (docs/retention.md): a simulated meeting with three
 * participants and every media type, captured under `retention: {zero: true}`, reaches a
 * live client while it runs and leaves nothing behind — no file under the storage root
 * or the spool, no media, transcript, audio or participant row, no timeline row about a
 * person — only the session, its status timeline and its received_counts. The same
 * meeting without zero retention, in the same hub, does store (the scans are not vacuous).
 */
const SPEED = 4;
const ANN = 301;
const BOB = 302;
const CY = 303;
// Names no status event could contain by chance.
const NAMES = { [ANN]: 'Annika Zeroretention', [BOB]: 'Bartholomew Zeroretention', [CY]: 'Cyrielle Zeroretention' };
const SPEECH = [
  { user: ANN, atMs: 8000, text: 'zero one' },
  { user: BOB, atMs: 11000, text: 'zero two' },
  { user: ANN, atMs: 14000, text: 'zero three' },
];
const CHAT = [
  { user: BOB, atMs: 9000, text: 'chat zero one' },
  { user: CY, atMs: 12000, text: 'chat zero two' },
];
const ALL_MEDIA: MediaKind[] = ['audio', 'video', 'deskshare', 'transcript', 'chat'];
/** The meeting ends this long (meeting time) after its script starts. */
const MEETING_MS = 20000;
const MEDIA_TABLES = ['media_artifacts', 'transcript_segments', 'audio_segments', 'participants'];

/**
 * The status timeline a zero-retention session may keep: the session's own lifecycle,
 * Zoom's stream webhooks, and the stream worker's notes about its connection — never an
 * event about a participant.
 */
const STATUS_EVENT = /^(session\.|stream\.|meeting\.rtms_|rtms\.(stream_state|session_state|first_packet_timestamp|media_connection_interrupted|handshake_refused|stream_close_\w+|(start|stop|pause|resume)_(requested|failed))$|recording\.ready$)/;
const PERSONAL_EVENT = /participant|speaker|sharing|chat_group|video_o/;

describe('Zero retention: live delivery only, nothing stored', () => {
  const root = path.join(os.tmpdir(), `zero-retention-${process.pid}-${Date.now()}`);
  const storageDir = path.join(root, 'recordings');
  const spoolDir = path.join(root, 'spool');

  const ctx = useE2eContext({
    simulator: { speed: SPEED, videoScale: 0.25 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams, QueueName.MediaFrames, QueueName.AppWebhooks], explicit: true } },
    env: () => ({
      STORAGE_LOCAL_DIR: storageDir,
      AUDIO_SPOOL_DIR: spoolDir,
      MEDIA_BATCH_FLUSH_MS: '50',
      AUDIO_SEGMENT_IDLE_FINALIZE_MS: '800',
      LIVE_REGISTRY_POLL_MS: '100',
    }),
  });

  const clients: LiveTestClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await fs.rm(root, { recursive: true, force: true });
  });

  /** The meeting's script, played from the moment the hub receives media (sim-script.ts). */
  function script(): ParticipantScript[] {
    const speaks = (user: number) => SPEECH.filter((s) => s.user === user).map((s) => ({ atMs: s.atMs, text: s.text, durationMs: 1000 }));
    const chat = (user: number) => CHAT.filter((c) => c.user === user).map((c) => ({ atMs: c.atMs, text: c.text }));
    return [
      { userId: ANN, name: NAMES[ANN], speaks: speaks(ANN), chat: chat(ANN), shares: [{ fromMs: 6000, toMs: 14000 }] },
      { userId: BOB, name: NAMES[BOB], speaks: speaks(BOB), chat: chat(BOB) },
      { userId: CY, name: NAMES[CY], joinAtMs: 5000, chat: chat(CY) },
    ];
  }

  /** Every file (not directory) under `dir`, as paths relative to it. */
  async function filesUnder(dir: string): Promise<string[]> {
    const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
  }

  const count = async (table: string, sessionId: string) => (await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM ${table} WHERE session_id = $1`, [sessionId]))[0].n;
  const audioParts = async (sessionId: string) =>
    (await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM audio_parts p JOIN audio_segments s ON s.id = p.segment_id WHERE s.session_id = $1`, [sessionId]))[0].n;
  const events = (sessionId: string) => query<{ event_type: string; payload: unknown }>(ctx.hub.app, `SELECT event_type, payload FROM session_events WHERE session_id = $1 ORDER BY created_at`, [sessionId]);
  interface SessionBody {
    status: string;
    capture_policy: Record<string, { store?: boolean } & Record<string, unknown>>;
    received_counts: Record<string, number>;
  }
  const getSession = async (id: string) => (await ctx.http().get(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY).expect(200)).body as SessionBody;

  /** Runs the meeting for a new session with `capturePolicy` until the hub is quiet again: stream done, queues idle, recording.ready announced. */
  async function capture(capturePolicy: Record<string, unknown>, live?: (sessionId: string) => Promise<void>) {
    const m = ctx.sim.createMeeting({ participants: waitingParticipants(script()) });
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: m.id, capturePolicy });
    const watching = live?.(sessionId);
    const stream = await ctx.sim.startRtms(m.id);
    await watching;
    await playMeeting(ctx.sim, m.id, stream.streamId, script(), capturePolicy.media_types as MediaKind[], MEETING_MS);
    await waitFor(async () => ((await ctx.hub.producer.queueFor(JobName.StreamRun).getJob(stream.streamId))?.finishedOn ? true : undefined), { timeoutMs: 30000, what: 'the stream job to finish' });
    await ctx.queuesIdle({ timeoutMs: 20000 });
    await waitFor(async () => (await events(sessionId)).some((e) => e.event_type === 'recording.ready'), { timeoutMs: 15000, what: 'recording.ready' });
    await ctx.queuesIdle({ timeoutMs: 20000 });
    return { sessionId, streamId: stream.streamId };
  }

  let zeroId: string;

  it('refuses retention values that are not a number of days or a boolean (400, nothing created)', async () => {
    const before = (await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM sessions`))[0].n;
    for (const retention of [{ media_days: -1 }, { transcript_days: 'ten' }, { events_days: '5' }, { zero: 'yes' }, { zero: 1 }, { forever: true }]) {
      const res = await ctx.http().post('/api/v1/sessions').set('x-api-key', API_KEY).send({ platform: 'zoom', meeting_id: '123456789', capture_policy: { retention } });
      expect({ retention, status: res.status, error: res.body.error }).toEqual({ retention, status: 400, error: 'validation_failed' });
    }
    expect((await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM sessions`))[0].n).toBe(before);
  });

  it('a zero-retention meeting is delivered live and leaves nothing in storage, the spool or the media tables', async () => {
    const client = await LiveTestClient.connect(ctx.hub.baseUrl);
    clients.push(client);
    // Zero wins over a per-type store: true.
    const { sessionId, streamId } = await capture({ media_types: ALL_MEDIA, video: { store: true }, chat: { store: true }, retention: { zero: true } }, async (id) => {
      await client.subscribe({ id: 'zero', sessions: [id], media: ['events', 'transcript', 'chat', 'audio'] });
    });
    zeroId = sessionId;

    // Live: every transcript line and chat message, participant events, and audio frames.
    await client.waitFor(() => client.entries('transcript').length >= SPEECH.length && client.entries('chat').length >= CHAT.length, 'transcript and chat live');
    expect(client.entries('transcript').map((m) => m.data?.text)).toEqual(SPEECH.map((s) => s.text));
    expect(client.entries('chat').map((m) => m.data?.text)).toEqual(CHAT.map((c) => c.text));
    expect(client.entries('event').filter((m) => m.data?.event === 'participant.joined').map((m) => m.data?.user_id)).toEqual(expect.arrayContaining([ANN, BOB, CY]));
    expect(client.frames.some((f) => f.media === 'audio' && f.sessionId === sessionId)).toBe(true);

    // The simulator did send every media type.
    const sent = ctx.sim.record(streamId).messagesSent.byType;
    for (const t of [RtmsMessageType.MediaDataAudio, RtmsMessageType.MediaDataVideo, RtmsMessageType.MediaDataShare, RtmsMessageType.MediaDataTranscript, RtmsMessageType.MediaDataChat]) expect({ t, sent: sent[t] > 0 }).toEqual({ t, sent: true });

    // Storage and spool: no file at all (this hub has captured nothing else yet).
    expect(await filesUnder(storageDir)).toEqual([]);
    expect(await filesUnder(spoolDir)).toEqual([]);
    // Tables: nothing of the session.
    for (const table of MEDIA_TABLES) expect({ table, rows: await count(table, sessionId) }).toEqual({ table, rows: 0 });
    expect(await audioParts(sessionId)).toBe(0);
    // The timeline: status events only, and no name anywhere in it.
    const timeline = await events(sessionId);
    expect(timeline.map((e) => e.event_type)).toEqual(expect.arrayContaining(['session.created', 'session.status_changed', 'recording.ready']));
    expect(timeline.filter((e) => !STATUS_EVENT.test(e.event_type) || PERSONAL_EVENT.test(e.event_type)).map((e) => e.event_type)).toEqual([]);
    const dump = JSON.stringify(timeline);
    for (const name of Object.values(NAMES)) expect(dump).not.toContain(name);
    // Nor in the app events outbox (participant.* and transcript.segment carry names and text).
    const appEvents = await query<{ type: string; data: unknown }>(ctx.hub.app, `SELECT type, data FROM app_events WHERE session_id = $1`, [sessionId]);
    expect(appEvents.map((e) => e.type).filter((t) => t.startsWith('participant.') || t === 'transcript.segment')).toEqual([]);
    for (const name of Object.values(NAMES)) expect(JSON.stringify(appEvents)).not.toContain(name);

    // The API: the policy, empty participants and transcript, and what was received.
    const session = await getSession(sessionId);
    expect(session.status).toBe('stopped');
    expect(session.capture_policy.retention).toEqual({ media_days: null, transcript_days: null, events_days: null, zero: true });
    for (const type of ['video', 'deskshare', 'audio', 'transcript', 'chat']) expect({ type, store: session.capture_policy[type].store }).toEqual({ type, store: false });
    const counts = session.received_counts;
    expect(counts).toMatchObject({ transcript_messages: SPEECH.length, chat_messages: CHAT.length, participants_seen: 3 });
    for (const type of ['audio', 'video', 'deskshare']) expect({ type, messages: counts[`${type}_messages`] > 0, bytes: counts[`${type}_bytes`] > 0 }).toEqual({ type, messages: true, bytes: true });
    expect(counts.events).toBeGreaterThan(0);
    expect((await ctx.http().get(`/api/v1/sessions/${sessionId}/participants`).set('x-api-key', API_KEY).expect(200)).body.data).toEqual([]);
    // recording.ready still comes, complete and empty.
    const ready = timeline.find((e) => e.event_type === 'recording.ready')!.payload as Record<string, unknown>;
    expect(ready).toMatchObject({ counts: { video_frames: 0, share_frames: 0, audio_segments: 0, transcript_segments: 0, chat_messages: 0 }, forced: false });
  });

  it('the same meeting without zero retention stores media, rows and participants (control)', async () => {
    const { sessionId } = await capture({ media_types: ALL_MEDIA });
    const files = await filesUnder(storageDir);
    expect(files.filter((f) => f.startsWith(`${sessionId}${path.sep}`)).length).toBeGreaterThan(0);
    for (const table of MEDIA_TABLES) expect({ table, stored: (await count(table, sessionId)) > 0 }).toEqual({ table, stored: true });
    expect((await events(sessionId)).some((e) => e.event_type === 'rtms.participant_joined')).toBe(true);
    const session = await getSession(sessionId);
    expect(session.received_counts).toMatchObject({ transcript_messages: SPEECH.length, chat_messages: CHAT.length, participants_seen: 3 });

    // The zero-retention session still has nothing, now that the hub has stored another's.
    expect(files.filter((f) => f.includes(zeroId))).toEqual([]);
    for (const table of MEDIA_TABLES) expect({ table, rows: await count(table, zeroId) }).toEqual({ table, rows: 0 });
  });
});
