import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { keyFingerprint } from '../src/config/api-keys';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import type { MediaKind } from '../src/simulator/protocol';
import type { ParticipantScript } from '../src/simulator/types';
import { StreamSignalPublisher } from '../src/common/stream-signals/stream-signal-publisher';
import { ParticipantDirectory, SessionCleanupHooks, StreamsService, StreamStatus } from '../src/modules/sessions';
import { createSession, insertSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { runScriptWhenMediaFlows, waitingParticipants } from './utils/sim-script';
import { API_KEY } from './utils/test-app';
import { TEST_KEYS } from './utils/test-keys';
import { waitFor, waitForQueuesIdle } from './utils/wait-for';

/**
 * Erasure by participant (docs/retention.md "Erasure"). A 3-participant simulated meeting
 * is captured (per-participant audio, video, transcript, chat); participant B is also in
 * a session under legal hold and in one with mixed audio. Erasing B removes exactly B's
 * rows and files — A's and C's stay — leaves the held session as it is and lists the
 * mixed one. An erasure asked (by email) while a meeting still streams drops B's audio
 * still in the worker's spool: no WAV of B's open segment ever appears.
 */
const SPEED = 4;
// User ids no other spec uses: an erasure reaches every session in the shared test database.
const A = 9201;
const B = 9202;
const C = 9203;
const POLICY = {
  media_types: ['audio', 'video', 'transcript', 'chat'],
  video: { skip_first_frames: 0, interval_ms: 0, max_frames_per_user: 3 },
  audio: { mode: 'per_participant', segment_seconds: 2 },
  transcript: { enabled: true },
  chat: { enabled: true },
};
const END_MS = 14000;
// Each speaks (camera follows the speaker: everyone gets frames), says a line and chats.
const SCRIPT: ParticipantScript[] = [
  { userId: A, name: 'Ann', speaks: [{ atMs: 1000, text: 'Ann speaking.', durationMs: 2000 }], chat: [{ atMs: 1500, text: 'hello from Ann' }] },
  { userId: B, name: 'Bob', speaks: [{ atMs: 4500, text: 'Bob speaking.', durationMs: 2000 }], chat: [{ atMs: 5000, text: 'hello from Bob' }] },
  { userId: C, name: 'Cat', speaks: [{ atMs: 8000, text: 'Cat speaking.', durationMs: 2000 }], chat: [{ atMs: 8500, text: 'hello from Cat' }] },
];

interface ErasureBody {
  id: string;
  status: string;
  subject_kind: string;
  subject_unresolved: boolean;
  counts: Record<string, number>;
  bytes_deleted: number;
  sessions_affected: number;
  affected_sessions: string[];
  sessions_held: string[];
  mixed_audio_sessions: string[];
  spool_segments_dropped: number;
  requested_by: string;
  owner: string | null;
  started_at: string | null;
  error: string | null;
}

describe('Erasure by participant', () => {
  let root: string;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'erasure-'));
  });

  const ctx = useE2eContext({
    simulator: { speed: SPEED, videoScale: 0.25 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams, QueueName.MediaFrames, QueueName.Maintenance], explicit: true } },
    env: () => ({ STORAGE_LOCAL_DIR: root, AUDIO_SEGMENT_IDLE_FINALIZE_MS: '800', MEDIA_BATCH_FLUSH_MS: '50' }),
  });

  afterAll(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const api = () => ctx.http();
  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => query<T>(ctx.hub.app, text, params);

  /** Starts the script once the hub receives every kind of media; returns the session, the sim meeting and its stream. */
  async function startMeeting(script: ParticipantScript[], policy: Record<string, unknown>) {
    const meeting = ctx.sim.createMeeting({ participants: waitingParticipants(script) });
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: policy });
    const { streamId } = await ctx.sim.startRtms(meeting.id);
    const live = ctx.sim.meeting(meeting.id)!;
    const t0 = await runScriptWhenMediaFlows(ctx.sim, meeting.id, streamId, script, policy.media_types as MediaKind[]);
    return { sessionId, meeting, live, streamId, t0 };
  }

  /** Ends the meeting and waits for the stream job to finish and every saver and WAV to land. */
  async function endMeeting(meetingId: number, streamId: string, sessionId: string): Promise<void> {
    ctx.sim.endMeeting(meetingId);
    await waitFor(async () => ((await ctx.hub.producer.queueFor(JobName.StreamRun).getJob(streamId))?.finishedOn ? true : undefined), {
      timeoutMs: 20000,
      what: 'the stream job to finish',
    });
    const mediaQueue = ctx.hub.producer.queue(QueueName.MediaFrames);
    await waitFor(
      async () => {
        await waitForQueuesIdle([mediaQueue], { timeoutMs: 15000 });
        const open = await sql<{ n: string }>(`SELECT count(*)::text AS n FROM audio_segments WHERE session_id = $1 AND status = 'open'`, [sessionId]);
        return open[0].n === '0';
      },
      { timeoutMs: 15000, what: 'savers drained and audio segments written' },
    );
  }

  /** Row counts per `session|table|user` of the given sessions. */
  async function rowCounts(sessionIds: string[]): Promise<Record<string, number>> {
    const rows = await sql<{ session_id: string; t: string; user_id: string; n: number }>(
      `SELECT session_id, 'artifact:' || kind AS t, user_id, count(*)::int AS n FROM media_artifacts WHERE session_id = ANY($1::uuid[]) GROUP BY 1, 2, 3
       UNION ALL SELECT session_id, 'transcript', user_id, count(*)::int FROM transcript_segments WHERE session_id = ANY($1::uuid[]) GROUP BY 1, 2, 3
       UNION ALL SELECT session_id, 'audio_segments', user_id, count(*)::int FROM audio_segments WHERE session_id = ANY($1::uuid[]) GROUP BY 1, 2, 3
       UNION ALL SELECT session_id, 'participants', zoom_user_id, count(*)::int FROM participants WHERE session_id = ANY($1::uuid[]) GROUP BY 1, 2, 3`,
      [sessionIds],
    );
    return Object.fromEntries(rows.map((r) => [`${r.session_id}|${r.t}|${r.user_id}`, r.n]));
  }

  async function filesOnDisk(): Promise<string[]> {
    const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name))).sort();
  }

  async function erase(body: Record<string, unknown>, key: string = API_KEY): Promise<ErasureBody> {
    const res = await api().post('/api/v1/erasures').set('x-api-key', key).send(body).expect(202);
    expect(res.body).toMatchObject({ status: 'queued' });
    return waitFor(
      async () => {
        const r = await api().get(`/api/v1/erasures/${res.body.id}`).set('x-api-key', key).expect(200);
        return ['completed', 'failed'].includes(r.body.status) ? (r.body as ErasureBody) : undefined;
      },
      { timeoutMs: 30000, what: `erasure ${res.body.id} to finish` },
    );
  }

  /** A session with stored rows and files written directly (a past meeting), `person` (B unless told) among its participants. */
  async function seedSession(opts: { mixedAudio: boolean; held: boolean }, person = { id: B, name: 'Bob' }): Promise<string> {
    const id = await insertSession(ctx.hub, { meetingUuid: `seed-${Math.random().toString(36).slice(2)}==`, status: 'stopped' });
    await sql(`INSERT INTO participants (session_id, zoom_user_id, user_name) VALUES ($1, $2, $4), ($1, $3, 'Ann')`, [id, String(person.id), String(A), person.name]);
    await sql(
      `INSERT INTO transcript_segments (session_id, rtms_stream_id, user_id, user_name, text, start_ms, end_ms, timestamp_ms)
       VALUES ($1::uuid, $4, $2, $5::text, $5::text || ' in a past meeting', 1, 2, 2), ($1::uuid, $4, $3, 'Ann', 'Ann in a past meeting', 3, 4, 4)`,
      [id, String(person.id), String(A), `seed-${id}`, person.name],
    );
    const objects: Array<{ kind: string; folder: string; user: string; name: string; file: string; type: string }> = [
      { kind: 'chat', folder: 'chat', user: String(person.id), name: person.name, file: '1_b.json', type: 'application/json' },
      { kind: 'video_frame', folder: 'video', user: String(person.id), name: person.name, file: '2.jpg', type: 'image/jpeg' },
      { kind: 'chat', folder: 'chat', user: String(A), name: 'Ann', file: '3_a.json', type: 'application/json' },
    ];
    if (opts.mixedAudio) objects.push({ kind: 'audio_segment', folder: 'audio', user: '0', name: 'mixed', file: '0.wav', type: 'audio/wav' });
    for (const o of objects) {
      const key = `${id}/${o.folder}/${o.name}_${o.user}/${o.file}`;
      await fs.mkdir(path.dirname(path.join(root, key)), { recursive: true });
      await fs.writeFile(path.join(root, key), `${o.kind} of ${o.user}`);
      await sql(
        `INSERT INTO media_artifacts (session_id, rtms_stream_id, kind, user_id, user_name, storage_key, content_type, bytes, sha256, captured_at)
         VALUES ($1, 'seed', $2, $3, $4, $5, $6, $7, 'x', now())`,
        [id, o.kind, o.user, o.user === '0' ? null : o.name, key, o.type, `${o.kind} of ${o.user}`.length],
      );
    }
    if (opts.held) await sql(`UPDATE sessions SET legal_hold_at = now(), legal_hold_reason = 'litigation', legal_hold_by = 'test' WHERE id = $1`, [id]);
    return id;
  }

  it('refuses malformed requests with 400 invalid_erasure_subject, and keys below admin with 403, recording nothing', async () => {
    const before = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM erasures`);
    for (const body of [{}, { zoom_user_id: '1', user_name: 'Ann' }, { zoom_user_id: '0' }, { user_email: 'nobody' }, { user_name: 'x'.repeat(513) }, { user_name: 7 }]) {
      const res = await api().post('/api/v1/erasures').set('x-api-key', API_KEY).send(body).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'invalid_erasure_subject' });
    }
    const extra = await api().post('/api/v1/erasures').set('x-api-key', API_KEY).send({ zoom_user_id: '1', reason: 'x' }).expect(400);
    expect(extra.body.error).toBe('validation_failed');
    await api().post('/api/v1/erasures').set('x-api-key', TEST_KEYS.operator).send({ zoom_user_id: '1' }).expect(403);
    await api().get('/api/v1/erasures').set('x-api-key', TEST_KEYS.reader).expect(403);
    await api().get('/api/v1/erasures/00000000-0000-4000-8000-000000000000').set('x-api-key', API_KEY).expect(404);
    expect(await sql<{ n: number }>(`SELECT count(*)::int AS n FROM erasures`)).toEqual(before);
  });

  it('answers 503 erasure_queue_unavailable when its job cannot be queued, listing the erasure as failed', async () => {
    const enqueue = jest.spyOn(ctx.hub.producer, 'enqueue').mockRejectedValueOnce(new Error('Connection is closed.'));
    try {
      const res = await api().post('/api/v1/erasures').set('x-api-key', API_KEY).send({ zoom_user_id: '9299' }).expect(503);
      expect(res.body).toMatchObject({ error: 'erasure_queue_unavailable' });
    } finally {
      enqueue.mockRestore();
    }
    const [latest] = (await api().get('/api/v1/erasures?limit=1').set('x-api-key', API_KEY).expect(200)).body.data as ErasureBody[];
    expect(latest).toMatchObject({ status: 'failed' });
    expect(latest.error).toContain('could not queue the erasure job');
  });

  it("erasing one of three participants removes exactly that person's frames, audio, transcript, chat and participant row; a held session is untouched, a mixed-audio one listed", async () => {
    const { sessionId: s1, meeting, live, streamId, t0 } = await startMeeting(SCRIPT, POLICY);
    // Zoom's participant_joined gives Cat's email (RTMS carries none).
    ctx.sim.sendWebhook('meeting.participant_joined', {
      account_id: 'acc',
      object: { id: String(meeting.id), uuid: meeting.uuid, participant: { user_id: String(C), user_name: 'Cat', email: 'Cat@Example.com', join_time: new Date().toISOString() } },
    });
    await waitFor(() => live.now() >= t0 + END_MS, { timeoutMs: 20000, what: 'the end of the script' });
    await endMeeting(meeting.id, streamId, s1);
    const held = await seedSession({ mixedAudio: false, held: true });
    const mixed = await seedSession({ mixedAudio: true, held: false });
    const sessions = [s1, held, mixed];
    expect(await sql(`SELECT email FROM participants WHERE session_id = $1 AND zoom_user_id = $2`, [s1, String(C)])).toEqual([{ email: 'cat@example.com' }]);

    const before = await rowCounts(sessions);
    const filesBefore = await filesOnDisk();
    // The meeting stored everything of everyone.
    const missing = [A, B, C].flatMap((u) => ['artifact:video_frame', 'artifact:audio_segment', 'artifact:chat', 'transcript', 'participants', 'audio_segments'].filter((t) => !before[`${s1}|${t}|${u}`]).map((t) => `${u} ${t}`));
    expect(missing).toEqual([]);
    // What apps were told about B (transcript.segment, participant.joined/left) goes too.
    const appEventsOf = async (user: number) =>
      (await sql<{ n: number }>(`SELECT count(*)::int AS n FROM app_events WHERE session_id = $1 AND (data->>'user_id' = $2 OR data->'participant'->>'user_id' = $2)`, [s1, String(user)]))[0].n;
    const bAppEvents = await appEventsOf(B);
    const othersAppEvents = (await appEventsOf(A)) + (await appEventsOf(C));
    expect(bAppEvents).toBeGreaterThan(0);
    // The stream worker's timeline names B too (RTMS joins and leaves, speaker, video on/off): with a
    // list naming others the event stays without B's entry; about B alone, it goes.
    const timelineOf = async (user: number) =>
      (
        await sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM session_events WHERE session_id = $1 AND EXISTS (SELECT 1 FROM jsonb_path_query(payload, 'lax $.**.user_id') AS u(v) WHERE u.v #>> '{}' = $2)`,
          [s1, String(user)],
        )
      )[0].n;
    const bTimeline = await timelineOf(B);
    const othersTimeline = [await timelineOf(A), await timelineOf(C)];
    expect(bTimeline).toBeGreaterThan(0);
    const bObjects = await sql<{ storage_key: string; bytes: number; session_id: string }>(
      `SELECT storage_key, bytes, session_id FROM media_artifacts WHERE user_id = $1 AND session_id = ANY($2::uuid[])`,
      [String(B), [s1, mixed]],
    );

    // An owner-scoped admin key reaches only its owner's sessions: none of these.
    const scoped = await erase({ zoom_user_id: String(B) }, TEST_KEYS.tenantB);
    expect(scoped).toMatchObject({ status: 'completed', owner: 'tenant-b', subject_unresolved: true, sessions_affected: 0, sessions_held: [], bytes_deleted: 0 });
    expect(await rowCounts(sessions)).toEqual(before);
    // An email no participant_joined gave matches nobody.
    expect(await erase({ user_email: 'nobody@example.com' })).toMatchObject({ status: 'completed', subject_unresolved: true, sessions_affected: 0, counts: {} });

    const done = await erase({ zoom_user_id: B });
    expect(done).toMatchObject({
      status: 'completed',
      subject_kind: 'zoom_user_id',
      subject_unresolved: false,
      requested_by: keyFingerprint(API_KEY),
      sessions_affected: 2,
      sessions_held: [held],
      mixed_audio_sessions: [mixed],
    });
    expect([...done.affected_sessions].sort()).toEqual([s1, mixed].sort());

    // Exactly B's rows went, in s1 and the mixed session; everything else is as it was.
    const after = await rowCounts(sessions);
    const expected = Object.fromEntries(Object.entries(before).filter(([k]) => !(k.endsWith(`|${B}`) && (k.startsWith(s1) || k.startsWith(mixed)))));
    expect(after).toEqual(expected);
    expect(after[`${mixed}|artifact:audio_segment|0`]).toBe(1); // mixed audio is not split
    expect(after[`${held}|participants|${B}`]).toBe(1);
    // Exactly B's files went.
    const gone = new Set(bObjects.map((o) => o.storage_key));
    expect(await filesOnDisk()).toEqual(filesBefore.filter((f) => !gone.has(f)));
    expect(gone.size).toBeGreaterThan(0);
    // Nor are B's folders left behind (their names are B's): only the held session keeps one.
    const dirs = (await fs.readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isDirectory() && e.name.endsWith(`_${B}`));
    expect(dirs.map((d) => path.relative(root, d.parentPath).split(path.sep)[0])).toEqual([held, held]);

    // The report adds up to what B had.
    const had = (t: string) => (before[`${s1}|${t}|${B}`] ?? 0) + (before[`${mixed}|${t}|${B}`] ?? 0);
    const { worker_events: workerEvents, events_redacted: redacted, ...counts } = done.counts;
    expect(counts).toEqual({
      video_frames: had('artifact:video_frame'),
      share_frames: 0,
      audio_segments: had('artifact:audio_segment'),
      chat_messages: had('artifact:chat'),
      transcript_segments: had('transcript'),
      participants: 2,
      objects: bObjects.length,
      app_events: bAppEvents,
    });
    expect((workerEvents ?? 0) + (redacted ?? 0)).toBe(bTimeline);
    expect(workerEvents).toBeGreaterThan(0);
    // GET /sessions/:id/events no longer shows B (id or name); A's and C's events are all there.
    expect(await timelineOf(B)).toBe(0);
    expect([await timelineOf(A), await timelineOf(C)]).toEqual(othersTimeline);
    const timeline: unknown[] = [];
    for (let cursor: string | null = null, page = 0; page === 0 || cursor; page++) {
      const res = await api().get(`/api/v1/sessions/${s1}/events?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`).set('x-api-key', API_KEY).expect(200);
      timeline.push(...(res.body.data as unknown[]));
      cursor = res.body.next_cursor as string | null;
    }
    const shown = JSON.stringify(timeline);
    expect(shown).not.toMatch(new RegExp(`"user_id":"?${B}"?[,}]`));
    expect(shown).not.toContain('"Bob"');
    expect(shown).toContain('"Ann"');
    expect(await appEventsOf(B)).toBe(0);
    expect((await appEventsOf(A)) + (await appEventsOf(C))).toBe(othersAppEvents);
    expect(done.bytes_deleted).toBe(bObjects.reduce((n, o) => n + Number(o.bytes), 0));

    // One deletion_log row per erased session (none for the held one), and media.deleted to apps.
    const log = await sql<{ session_id: string; reason: string; actor: string; api_key_fingerprint: string; objects_deleted: number; rows_deleted: Record<string, number>; details: Record<string, unknown> }>(
      `SELECT session_id, reason, actor, api_key_fingerprint, objects_deleted, rows_deleted, details FROM deletion_log WHERE erasure_id = $1 ORDER BY session_id`,
      [done.id],
    );
    expect(log.map((l) => l.session_id).sort()).toEqual([s1, mixed].sort());
    for (const l of log) {
      expect(l).toMatchObject({ reason: 'erasure', actor: 'api_key', api_key_fingerprint: keyFingerprint(API_KEY), details: { subject_kind: 'zoom_user_id' } });
      expect(JSON.stringify(l.details)).not.toContain(String(B)); // the subject is in the log as its hash only
    }
    expect(log.find((l) => l.session_id === s1)!.rows_deleted).toMatchObject({ participants: 1, transcript_segments: before[`${s1}|transcript|${B}`], session_events: workerEvents });
    const events = await sql<{ session_id: string }>(`SELECT session_id FROM app_events WHERE type = 'media.deleted' AND data->>'erasure_id' = $1`, [done.id]);
    expect(events.map((e) => e.session_id).sort()).toEqual([s1, mixed].sort());

    // The subject's value is gone from the row; owner scoping of reads.
    expect(await sql(`SELECT subject_sealed FROM erasures WHERE id = $1`, [done.id])).toEqual([{ subject_sealed: null }]);
    await api().get(`/api/v1/erasures/${done.id}`).set('x-api-key', TEST_KEYS.tenantB).expect(404);
    const scopedList = await api().get('/api/v1/erasures').set('x-api-key', TEST_KEYS.tenantB).expect(200);
    expect((scopedList.body.data as ErasureBody[]).map((e) => e.id)).toEqual([scoped.id]);
    const list = await api().get('/api/v1/erasures?limit=2').set('x-api-key', API_KEY).expect(200);
    expect((list.body.data as ErasureBody[])[0].id).toBe(done.id);
    expect(list.body.next_cursor).toEqual(expect.any(String));

    // Asking again finds nothing more to erase.
    expect(await erase({ zoom_user_id: String(B) })).toMatchObject({ status: 'completed', sessions_affected: 0, sessions_held: [held], mixed_audio_sessions: [] });
  }, 90000);

  it("an erasure asked while the meeting streams drops B's audio still in the spool: no WAV of B's open segment appears", async () => {
    const BOB = 9302;
    const ANN = 9301;
    // One long segment window: B's audio stays in the spool, its WAV written only at the end.
    const policy = { media_types: ['audio', 'transcript'], audio: { mode: 'per_participant', segment_seconds: 3600 }, transcript: { enabled: true } };
    const script: ParticipantScript[] = [
      { userId: ANN, name: 'Ann', speaks: [{ atMs: 500, text: 'Ann keeps talking.', durationMs: 1000 }] },
      { userId: BOB, name: 'Bob', speaks: [{ atMs: 700, text: 'Bob keeps talking.', durationMs: 1000 }] },
    ];
    const { sessionId, meeting, streamId } = await startMeeting(script, policy);
    ctx.sim.sendWebhook('meeting.participant_joined', {
      account_id: 'acc',
      object: { id: String(meeting.id), uuid: meeting.uuid, participant: { user_id: String(BOB), user_name: 'Bob', email: 'Bob.Stream@Example.com' } },
    });
    const open = await waitFor(
      async () => {
        const rows = await sql<{ segment_start_ms: string; parts: number }>(
          `SELECT s.segment_start_ms::text, (SELECT count(*)::int FROM audio_parts p WHERE p.segment_id = s.id) AS parts
             FROM audio_segments s WHERE s.session_id = $1 AND s.user_id = $2 AND s.status = 'open'`,
          [sessionId, String(BOB)],
        );
        const email = await sql(`SELECT 1 FROM participants WHERE session_id = $1 AND zoom_user_id = $2 AND email = 'bob.stream@example.com'`, [sessionId, String(BOB)]);
        return rows.length > 0 && rows.every((r) => r.parts > 0) && email.length > 0 ? rows.map((r) => r.segment_start_ms) : undefined;
      },
      { timeoutMs: 20000, what: "B's open audio segment in the spool and B's email" },
    );

    const done = await erase({ user_email: ' Bob.Stream@example.COM' });
    expect(done).toMatchObject({ status: 'completed', subject_kind: 'user_email', subject_unresolved: false, sessions_affected: 1 });
    expect(done.spool_segments_dropped).toBeGreaterThanOrEqual(1);
    expect(await sql(`SELECT 1 FROM participants WHERE session_id = $1 AND zoom_user_id = $2`, [sessionId, String(BOB)])).toEqual([]);
    // The worker dropped B's audio it still held (and refuses the rest of B's window).
    // (Counted when the worker's erase signal lands: not ordered with the erasure's end.)
    await waitFor(async () => {
      const metrics = await api().get('/metrics').set('x-api-key', API_KEY).expect(200);
      const erased = /rtms_hub_audio_discarded_total\{reason="erased"\} (\d+)/.exec(metrics.text);
      return Number(erased?.[1] ?? 0) > 0;
    }, { what: 'erased audio to be counted' });

    await endMeeting(meeting.id, streamId, sessionId);
    // B's window that was open at the erasure never became a WAV, nor a segment row; A's did.
    const windowsOf = async (user: number) =>
      (
        await sql<{ start: string }>(`SELECT segment_start_ms::text AS start FROM audio_segments WHERE session_id = $1 AND user_id = $2`, [sessionId, String(user)])
      ).map((r) => r.start);
    expect((await windowsOf(BOB)).filter((w) => open.includes(w))).toEqual([]);
    expect(await windowsOf(ANN)).toEqual(expect.arrayContaining(open));
    const wavs = await sql<{ user_id: string; captured_at: Date }>(`SELECT user_id, captured_at FROM media_artifacts WHERE session_id = $1 AND kind = 'audio_segment'`, [sessionId]);
    const inOpenWindow = (w: { captured_at: Date }) => open.some((start) => Math.floor(w.captured_at.getTime() / 3_600_000) * 3_600_000 === Number(start));
    expect(wavs.filter((w) => w.user_id === String(BOB) && inOpenWindow(w))).toEqual([]);
    expect(wavs.filter((w) => w.user_id === String(ANN) && inOpenWindow(w)).length).toBeGreaterThan(0);
  }, 60000);

  it('an erasure job that failed after its first pass had erased reports the person found, with that pass\'s counts, once its retry completes', async () => {
    const dan = { id: 9204, name: 'Dan' };
    const sessionId = await seedSession({ mixedAudio: false, held: false }, dan);
    const before = await rowCounts([sessionId]);
    const participants = ctx.hub.app.get(ParticipantDirectory);
    const byUserId = participants.byUserId.bind(participants);
    // Run 1: its first pass erases Dan, its second pass's lookup fails, so the job is retried.
    // Run 2's passes find nothing of Dan left.
    const lookups = jest.spyOn(participants, 'byUserId').mockImplementationOnce(byUserId).mockRejectedValueOnce(new Error('connection lost after the first pass'));
    try {
      const done = await erase({ zoom_user_id: String(dan.id) });
      expect(lookups).toHaveBeenCalledTimes(4);
      expect(done).toMatchObject({ status: 'completed', subject_unresolved: false, sessions_affected: 1, affected_sessions: [sessionId], sessions_held: [], error: null });
      expect(done.counts).toEqual({ video_frames: 1, share_frames: 0, audio_segments: 0, chat_messages: 1, transcript_segments: 1, participants: 1, objects: 2 });
      expect(await rowCounts([sessionId])).toEqual(Object.fromEntries(Object.entries(before).filter(([k]) => !k.endsWith(`|${dan.id}`))));
      expect(await sql(`SELECT session_id FROM deletion_log WHERE erasure_id = $1`, [done.id])).toEqual([{ session_id: sessionId }]);
    } finally {
      lookups.mockRestore();
    }
  });

  it('an erasure by email also erases what landed between its passes, although its first pass deleted the participant row that held the email', async () => {
    const fay = { id: 9206, name: 'Fay' };
    const sessionId = await seedSession({ mixedAudio: false, held: false }, fay);
    await sql(`UPDATE participants SET email = 'fay@example.com' WHERE session_id = $1 AND zoom_user_id = $2`, [sessionId, String(fay.id)]);
    const participants = ctx.hub.app.get(ParticipantDirectory);
    const byEmail = participants.byEmail.bind(participants);
    // The second pass's lookup: a transcript batch of Fay's in flight during the first pass has landed.
    const lookups = jest
      .spyOn(participants, 'byEmail')
      .mockImplementationOnce(byEmail)
      .mockImplementationOnce(async (email) => {
        await sql(
          `INSERT INTO transcript_segments (session_id, rtms_stream_id, user_id, user_name, text, start_ms, end_ms, timestamp_ms) VALUES ($1, 'late', $2, 'Fay', 'Fay, saved late', 5, 6, 6)`,
          [sessionId, String(fay.id)],
        );
        return byEmail(email);
      });
    try {
      const done = await erase({ user_email: 'fay@example.com' });
      expect(lookups).toHaveBeenCalledTimes(2);
      expect(done).toMatchObject({ status: 'completed', subject_unresolved: false, affected_sessions: [sessionId] });
      expect(done.counts).toMatchObject({ transcript_segments: 2, participants: 1 });
      expect(Object.keys(await rowCounts([sessionId])).filter((k) => k.endsWith(`|${fay.id}`))).toEqual([]);
    } finally {
      lookups.mockRestore();
    }
  });

  it("a hold placed after the match stops a session's erasure before its live streams are told to drop anything", async () => {
    const eve = { id: 9205, name: 'Eve' };
    const sessionId = await seedSession({ mixedAudio: false, held: true }, eve);
    const before = await rowCounts([sessionId]);
    const participants = ctx.hub.app.get(ParticipantDirectory);
    const sessionFacts = participants.sessionFacts.bind(participants);
    // The match read the session before the hold was placed; a stream of it is live.
    const facts = jest.spyOn(participants, 'sessionFacts').mockImplementation(async (ids) => (await sessionFacts(ids)).map((f) => ({ ...f, legalHoldAt: null })));
    const live = jest.spyOn(ctx.hub.app.get(StreamsService), 'listForSession').mockImplementation(async () => [{ rtmsStreamId: `live-${sessionId}`, status: StreamStatus.Active } as never]);
    const publish = jest.spyOn(ctx.hub.app.get(StreamSignalPublisher), 'publish');
    try {
      const done = await erase({ zoom_user_id: String(eve.id) });
      expect(done).toMatchObject({ status: 'completed', sessions_held: [sessionId], affected_sessions: [] });
      expect(publish).not.toHaveBeenCalled();
      expect(await rowCounts([sessionId])).toEqual(before);
    } finally {
      facts.mockRestore();
      live.mockRestore();
      publish.mockRestore();
    }
  });

  it('DELETE of a session holds it while its media is deleted: a hold placed meanwhile waits, then finds no session; one placed first refuses the delete', async () => {
    const sessionId = await seedSession({ mixedAudio: false, held: false }, { id: 9207, name: 'Gus' });
    const hooks = ctx.hub.app.get(SessionCleanupHooks);
    // The hold is asked for while the delete deletes the stored media.
    const run = hooks.run.bind(hooks);
    let holdAsked: Promise<number> | null = null;
    const cleanup = jest.spyOn(hooks, 'run').mockImplementationOnce(async (id) => {
      holdAsked = api().post(`/api/v1/sessions/${sessionId}/hold`).set('x-api-key', API_KEY).send({ reason: 'late' }).then((r) => r.status);
      // Until the hold's request waits on the session's row (it never does without the delete's lock: then it is placed at once).
      await waitFor(async () => ((await sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`))[0].n > 0 ? true : undefined), { timeoutMs: 3000, intervalMs: 20, what: 'the hold to wait on the row' }).catch(() => undefined);
      return run(id);
    });
    try {
      await api().delete(`/api/v1/sessions/${sessionId}`).set('x-api-key', API_KEY).expect(204);
      expect(await holdAsked).toBe(404);
      expect(await sql(`SELECT id FROM sessions WHERE id = $1`, [sessionId])).toEqual([]);
    } finally {
      cleanup.mockRestore();
    }
    const held = await seedSession({ mixedAudio: false, held: true }, { id: 9208, name: 'Hal' });
    expect((await api().delete(`/api/v1/sessions/${held}`).set('x-api-key', API_KEY).expect(409)).body).toMatchObject({ error: 'session_on_legal_hold' });
    expect(await filesOnDisk()).toEqual(expect.arrayContaining([expect.stringContaining(held)]));
  });

  it('a media batch of the person received before the erasure and saved after it is not stored; one received after it is new capture', async () => {
    const ivy = { id: 9209, name: 'Ivy' };
    const sessionId = await seedSession({ mixedAudio: false, held: false }, ivy);
    const before = Date.now();
    const done = await erase({ zoom_user_id: String(ivy.id) });
    expect(done).toMatchObject({ status: 'completed', affected_sessions: [sessionId] });
    const after = Date.now();
    // Two chat batches of Ivy's: one received before the erasure (it waited for storage, say), one after.
    const chat = (receivedAt: number, text: string) =>
      ctx.hub.producer.enqueue(JobName.ChatSave, { streams: [{ sessionId, rtmsStreamId: 'late', items: [{ msgType: 18, userId: ivy.id, userName: ivy.name, timestamp: receivedAt, data: text, receivedAt }] }] });
    await chat(before - 1000, 'sent before the erasure');
    await chat(after + 1, 'sent after the erasure');
    await waitForQueuesIdle([ctx.hub.producer.queue(QueueName.MediaFrames)]);
    const rows = await sql<{ text: string }>(`SELECT meta->>'text' AS text FROM media_artifacts WHERE session_id = $1 AND user_id = $2`, [sessionId, String(ivy.id)]);
    expect(rows.map((r) => r.text)).toEqual(['sent after the erasure']);
  });
});
