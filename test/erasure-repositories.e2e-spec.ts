import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { ParticipantMediaRepository } from '../src/modules/media-ingest/repositories/participant-media.repository';
import { ErasuresRepository } from '../src/modules/retention/erasure/erasures.repository';
import { ParticipantLookupRepository } from '../src/modules/sessions/repositories/participant-lookup.repository';

/**
 * The SQL of erasure by participant against the real, migrated Postgres: matching a
 * person across the media tables and participants (by id, NFC name, email), locking and
 * deleting their rows, and the erasure row's report, which must add up once per session
 * however often a run is repeated. Rows are unique to this run and removed in afterAll.
 */
describe('erasure repositories (real Postgres)', () => {
  let ds: DataSource;
  let media: ParticipantMediaRepository;
  let lookup: ParticipantLookupRepository;
  let erasures: ErasuresRepository;
  const run = randomUUID().slice(0, 8);
  const sessions: string[] = [];
  const erasureIds: string[] = [];
  // User ids unique to this run: other files share the database.
  const uid = (n: number) => `${parseInt(run, 16) % 1_000_000}${n}`;

  beforeAll(async () => {
    ds = await new DataSource(buildDataSourceOptions(process.env.DATABASE_URL as string, 4)).initialize();
    media = new ParticipantMediaRepository(ds);
    lookup = new ParticipantLookupRepository(ds);
    erasures = new ErasuresRepository(ds);
  });

  afterAll(async () => {
    if (sessions.length > 0) await ds.query(`DELETE FROM sessions WHERE id = ANY($1::uuid[])`, [sessions]);
    if (erasureIds.length > 0) await ds.query(`DELETE FROM erasures WHERE id = ANY($1::uuid[])`, [erasureIds]);
    await ds.destroy();
  });

  async function newSession(meetingUuid = `erasure-repo-${run}-${sessions.length}`): Promise<string> {
    const [row] = await ds.query(`INSERT INTO sessions (platform, product, meeting_uuid, status, capture_policy, metadata, version) VALUES ('zoom', 'meeting', $1, 'streaming', '{}', '{}', 1) RETURNING id`, [meetingUuid]);
    sessions.push(row.id as string);
    return row.id as string;
  }

  async function artifact(sessionId: string, userId: string, userName: string | null, kind = 'video_frame'): Promise<void> {
    await ds.query(
      `INSERT INTO media_artifacts (session_id, rtms_stream_id, kind, user_id, user_name, storage_key, content_type, bytes, sha256, captured_at)
       VALUES ($1, 'st', $2, $3, $4, $5, 'image/jpeg', 10, 'x', now())`,
      [sessionId, kind, userId, userName, `${sessionId}/${kind}/${randomUUID()}`],
    );
  }

  async function segment(sessionId: string, userId: string, status: string): Promise<string> {
    const [row] = await ds.query(
      `INSERT INTO audio_segments (session_id, rtms_stream_id, user_id, user_name, segment_start_ms, segment_ms, sample_rate, channels, status)
       VALUES ($1, $2, $3, NULL, 0, 1000, 16000, 1, $4) RETURNING id`,
      [sessionId, `st-${randomUUID()}`, userId, status],
    );
    await ds.query(`INSERT INTO audio_parts (segment_id, first_ts, last_ts, packet_ts, packet_len) VALUES ($1, 1, 2, '{1,2}', '{2,2}')`, [row.id]);
    return row.id as string;
  }

  it('matches a user id across the media tables, never the mixed stream, and a name after NFC normalisation (case-sensitive)', async () => {
    const s1 = await newSession();
    const s2 = await newSession();
    await artifact(s1, uid(1), 'Jose\u0301'); // decomposed é
    await ds.query(
      `INSERT INTO transcript_segments (session_id, rtms_stream_id, user_id, user_name, text, start_ms, end_ms, timestamp_ms) VALUES ($1, $4, $2, $3, 'hi', 1, 2, 2)`,
      [s2, uid(1), 'jos\u00e9', `st-${run}`],
    );
    await segment(s2, uid(1), 'open');
    await artifact(s2, '0', 'Jos\u00e9', 'audio_segment'); // the mixed stream carrying the name: never a person
    const byId = await media.sessionsOfUserId(uid(1));
    expect(byId.map((r) => r.sessionId).sort()).toEqual([s1, s2].sort());
    const byName = await media.sessionsOfUserName('Jos\u00e9');
    expect(byName).toEqual([{ sessionId: s1, userId: uid(1) }]); // 'josé' in s2 differs in case
    expect(await media.hasMixedAudio(s2)).toBe(true);
    expect(await media.hasMixedAudio(s1)).toBe(false);
  });

  it('finds participants by id, name and email; records an email on the open session of a meeting, creating the row if needed', async () => {
    const uuid = `erasure-repo-${run}-mtg`;
    const s = await newSession(uuid);
    await ds.query(`INSERT INTO participants (session_id, zoom_user_id, user_name) VALUES ($1, $2, 'Ann'), ($1, '0', 'Ann')`, [s, uid(2)]);
    await lookup.recordEmail(s, uid(2), 'ann@example.com', 'Other name');
    await lookup.recordEmail(s, uid(3), 'bob@example.com', 'Bob');
    expect(await lookup.byUserId(uid(2))).toEqual([{ sessionId: s, userId: uid(2) }]);
    expect(await lookup.byUserName('Ann')).toEqual(expect.arrayContaining([{ sessionId: s, userId: uid(2) }]));
    expect((await lookup.byUserName('Ann')).some((r) => r.userId === '0')).toBe(false);
    expect(await lookup.byEmail('bob@example.com')).toEqual([{ sessionId: s, userId: uid(3) }]);
    // The stream's name is kept; the webhook only adds the email.
    expect(await ds.query(`SELECT user_name, email FROM participants WHERE session_id = $1 AND zoom_user_id = $2`, [s, uid(2)])).toEqual([{ user_name: 'Ann', email: 'ann@example.com' }]);
    expect(await lookup.byUserId('0')).toEqual([]);
  });

  it("locks and deletes one user's rows of a session (parts by cascade), leaving others and other sessions", async () => {
    const s1 = await newSession();
    const s2 = await newSession();
    for (const s of [s1, s2]) {
      await artifact(s, uid(4), 'Bob', 'chat');
      await artifact(s, uid(5), 'Ann', 'chat');
      await segment(s, uid(4), 'open');
      await segment(s, uid(4), 'final');
    }
    const segIds: Array<{ id: string }> = await ds.query(`SELECT id FROM audio_segments WHERE session_id = $1 AND user_id = $2`, [s1, uid(4)]);
    const counts = await ds.transaction(async (em) => {
      const locked = await media.lockUserSegments(s1, [uid(4)], em);
      const objects = await media.userObjects(s1, [uid(4)], em);
      const artifacts = await media.deleteUserArtifacts(s1, [uid(4)], em);
      const segments = await media.deleteUserSegments(s1, [uid(4)], em);
      return { locked, objects: objects.length, artifacts, segments };
    });
    expect(counts).toEqual({ locked: { total: 2, open: 1 }, objects: 1, artifacts: { chat: 1 }, segments: 2 });
    expect(await ds.query(`SELECT count(*)::int AS n FROM audio_parts WHERE segment_id = ANY($1::uuid[])`, [segIds.map((r) => r.id)])).toEqual([{ n: 0 }]);
    const left: Array<{ session_id: string; user_id: string; n: number }> = await ds.query(
      `SELECT session_id, user_id, count(*)::int AS n FROM media_artifacts WHERE session_id = ANY($1::uuid[]) GROUP BY 1, 2 ORDER BY 1, 2`,
      [[s1, s2]],
    );
    expect(left.filter((r) => r.session_id === s1)).toEqual([{ session_id: s1, user_id: uid(5), n: 1 }]);
    expect(left.filter((r) => r.session_id === s2)).toHaveLength(2);
  });

  it('tells which participant folders hold another user\'s object (those are not removed)', async () => {
    const s = await newSession();
    await ds.query(
      `INSERT INTO media_artifacts (session_id, rtms_stream_id, kind, user_id, user_name, storage_key, content_type, bytes, sha256, captured_at)
       VALUES ($1, 'st', 'chat', $2, 'Bob', $4, 'application/json', 1, 'x', now()),
              ($1, 'st', 'chat', $3, 'Ann', $5, 'application/json', 1, 'x', now())`,
      [s, uid(6), uid(7), `${s}/chat/Bob_${uid(6)}/1.json`, `${s}/chat/Ann_${uid(7)}/1.json`],
    );
    const bob = `${s}/chat/Bob_${uid(6)}/`;
    const ann = `${s}/chat/Ann_${uid(7)}/`;
    expect(await media.foldersShared(s, [bob, ann], [uid(6)])).toEqual(new Set([ann]));
    expect(await media.foldersShared(s, [], [uid(6)])).toEqual(new Set());
  });

  it("takes a user out of the session's timeline — the stream workers' events and Zoom's — keeping everyone else's (a list naming several keeps the others)", async () => {
    const s = await newSession();
    const other = await newSession();
    const [ann, bo] = [uid(8), uid(9)];
    const event = async (sessionId: string, source: string, eventType: string, payload: Record<string, unknown>): Promise<string> => {
      const [row] = await ds.query(
        `INSERT INTO session_events (session_id, source, event_type, dedupe_key, payload, status) VALUES ($1, $2, $3, $4, $5::jsonb, 'processed') RETURNING id`,
        [sessionId, source, eventType, `erasure-repo-${randomUUID()}`, JSON.stringify(payload)],
      );
      return row.id as string;
    };
    // Ann (numeric user id, as RTMS sends it) and Bo in the stream worker's timeline.
    const annOnly = [
      await event(s, 'worker', 'rtms.participant_joined', { event_type: 3, participants: [{ user_id: Number(ann), user_name: 'Ann' }] }),
      await event(s, 'worker', 'rtms.active_speaker_changed', { event_type: 2, user_id: Number(ann), user_name: 'Ann' }),
      await event(s, 'worker', 'rtms.sharing_started', { event_type: 5, user_id: Number(ann), user_name: 'Ann' }),
      await event(s, 'worker', 'video.keyframe_wait', { user_id: ann, kind: 'video', cause: 'start' }),
      await event(s, 'worker', 'media.lost', { reason: 'spool_host_lost', participants: [{ user_id: ann, user_name: 'Ann' }] }),
      await event(s, 'webhook', 'meeting.participant_joined', { event: 'meeting.participant_joined', payload: { object: { participant: { user_id: ann, user_name: 'Ann', email: 'ann@example.com' } } } }),
    ];
    const both = await event(s, 'worker', 'rtms.participant_joined', { event_type: 3, timestamp: 5, participants: [{ user_id: Number(ann), user_name: 'Ann' }, { user_id: Number(bo), user_name: 'Bo' }] });
    const bosOwn = [
      await event(s, 'worker', 'rtms.active_speaker_changed', { event_type: 2, user_id: Number(bo), user_name: 'Bo' }),
      await event(s, 'worker', 'rtms.participant_video_on', { event_type: 8, participants: [{ user_id: Number(bo) }] }),
    ];
    const status = await event(s, 'api', 'session.status_changed', { from: 'created', to: 'streaming' });
    const elsewhere = await event(other, 'worker', 'rtms.active_speaker_changed', { event_type: 2, user_id: Number(ann), user_name: 'Ann' });

    const result = await ds.transaction((em) => lookup.eraseEventsOfUsers(s, [ann], null, em));
    expect(result).toEqual({ zoomEvents: 1, workerEvents: 5, redacted: 1 });
    const left: Array<{ id: string; payload: Record<string, unknown> }> = await ds.query(`SELECT id, payload FROM session_events WHERE session_id = ANY($1::uuid[]) ORDER BY id`, [[s, other]]);
    expect(left.map((r) => r.id).sort()).toEqual([both, ...bosOwn, status, elsewhere].sort());
    expect(left.find((r) => r.id === both)!.payload).toEqual({ event_type: 3, timestamp: 5, participants: [{ user_id: Number(bo), user_name: 'Bo' }] });
    expect(JSON.stringify(left.filter((r) => r.id !== elsewhere))).not.toContain('Ann');
    expect(annOnly.some((id) => left.some((r) => r.id === id))).toBe(false);

    // By name: an entry with the name (NFC) and no user id of theirs goes too; the join that
    // now lists only Bo goes with Bo's own events.
    const named = await event(s, 'worker', 'rtms.participant_left', { event_type: 4, participants: [{ user_id: 1, user_name: 'Bo\u0308' }, { user_id: 2, user_name: 'Cy' }] });
    expect(await ds.transaction((em) => lookup.eraseEventsOfUsers(s, [bo], 'B\u00f6', em))).toEqual({ zoomEvents: 0, workerEvents: 3, redacted: 1 });
    const afterName: Array<{ id: string; payload: Record<string, unknown> }> = await ds.query(`SELECT id, payload FROM session_events WHERE session_id = $1 ORDER BY id`, [s]);
    expect(afterName.map((r) => r.id).sort()).toEqual([named, status].sort());
    expect(afterName.find((r) => r.id === named)!.payload).toEqual({ event_type: 4, participants: [{ user_id: 2, user_name: 'Cy' }] });
  });

  it('looks names up along an expression index on normalize(user_name, NFC) in every table an erasure by name reads', async () => {
    const plan = (text: string, params: unknown[]) =>
      ds.transaction(async (em) => {
        await em.query(`SET LOCAL enable_seqscan = off`);
        const rows: Array<{ 'QUERY PLAN': string }> = await em.query(`EXPLAIN ${text}`, params);
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    for (const table of ['media_artifacts', 'transcript_segments', 'audio_segments']) {
      expect(await plan(`SELECT session_id, user_id FROM ${table} WHERE user_name IS NOT NULL AND normalize(user_name, NFC) = $1`, ['Ann'])).toContain(`IDX_${table}_user_name_nfc`);
    }
    expect(await plan(`SELECT session_id, zoom_user_id FROM participants WHERE user_name IS NOT NULL AND normalize(user_name, NFC) = $1 AND zoom_user_id <> $2`, ['Ann', '0'])).toContain(
      'IDX_participants_user_name_nfc',
    );
  });

  it("adds a session's progress to the report (counts merged by kind, sessions listed once) and clears the sealed subject when it ends", async () => {
    const id = randomUUID();
    erasureIds.push(id);
    const s1 = await newSession();
    await erasures.insert({ id, subjectKind: 'zoom_user_id', subjectHash: 'a'.repeat(64), subjectSealed: 'sealed', requestedBy: 'fp', owner: null });
    await ds.transaction((em) => erasures.addProgress(id, s1, { counts: { video_frames: 2, objects: 2 }, bytes: 20, spoolSegmentsDropped: 1 }, em));
    await ds.transaction((em) => erasures.addProgress(id, s1, { counts: { chat_messages: 1, objects: 1 }, bytes: 5, spoolSegmentsDropped: 0 }, em));
    await erasures.addHeld(id, s1);
    await erasures.addHeld(id, s1);
    await erasures.addMixedAudio(id, s1);
    await erasures.addMixedAudio(id, s1);
    expect(await erasures.markRunning(id)).toBe(true);
    await erasures.finish(id, 'completed');
    expect(await erasures.markRunning(id)).toBe(false);
    await erasures.finish(id, 'failed', 'late'); // an ended erasure stays as it ended
    const row = (await erasures.findOne(id))!;
    expect(row).toMatchObject({
      status: 'completed',
      error: null,
      subjectSealed: null,
      counts: { video_frames: 2, chat_messages: 1, objects: 3 },
      bytesDeleted: 25,
      spoolSegmentsDropped: 1,
      sessionsAffected: [s1],
      sessionsHeld: [s1],
      mixedAudioSessions: [s1],
    });
    expect(row.startedAt).toBeInstanceOf(Date);
    expect(row.finishedAt).toBeInstanceOf(Date);
    expect(await erasures.findOne(id, 'someone-else')).toBeNull();
  });
});
