import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { AudioSegmentsRepository, NewPart, NewSegment } from '../src/modules/media-ingest/repositories/audio-segments.repository';
import { ArtifactRow, MediaArtifactsRepository } from '../src/modules/media-ingest/repositories/media-artifacts.repository';
import { TranscriptRow, TranscriptSegmentsRepository } from '../src/modules/media-ingest/repositories/transcript-segments.repository';
import { SessionEntity } from '../src/modules/sessions/entities/session.entity';
import { SessionsRepository } from '../src/modules/sessions/repositories/sessions.repository';

/**
 * The media-ingest repositories against the real, migrated Postgres: rows in, rows out,
 * idempotency, and the lock modes the audio spool and the WAV writer rely on
 * (docs/storage.md). Every test uses its own streams and spool host, so it sees only its
 * own rows in the shared test database. (One file over 400 lines on purpose: the three
 * repositories share its fixtures, transaction helpers and DataSource.)
 */
describe('media-ingest repositories (Postgres)', () => {
  let ds: DataSource;
  let artifacts: MediaArtifactsRepository;
  let transcripts: TranscriptSegmentsRepository;
  let audio: AudioSegmentsRepository;

  const uniq = () => randomUUID().slice(0, 8);
  const newSession = async (): Promise<string> => (await ds.getRepository(SessionEntity).save({ meetingId: '81234567890' })).id;
  const count = async (sql: string, params: unknown[] = []): Promise<number> => Number((await ds.query(`SELECT count(*)::int AS n FROM (${sql}) x`, params))[0].n);
  /** Runs `fn` in a transaction that stays open until `fn`'s promise settles, then rolls back. */
  const inTx = async <T>(fn: (em: EntityManager) => Promise<T>): Promise<T> => {
    const qr = ds.createQueryRunner();
    await qr.startTransaction();
    try {
      return await fn(qr.manager);
    } finally {
      await qr.rollbackTransaction();
      await qr.release();
    }
  };
  /** Runs `fn` in a transaction held open until `release` is called (committed then). */
  const holdTx = async () => {
    const qr = ds.createQueryRunner();
    await qr.startTransaction();
    return {
      em: qr.manager,
      release: async () => {
        await qr.commitTransaction();
        await qr.release();
      },
    };
  };
  /** Whether a row lock of `mode` on the segment can be taken at once (NOWAIT from another connection). */
  const canLock = async (segmentId: string, mode: 'FOR UPDATE' | 'FOR NO KEY UPDATE' | 'FOR SHARE' | 'FOR KEY SHARE'): Promise<boolean> =>
    inTx(async (em) => {
      try {
        await em.query(`SELECT id FROM audio_segments WHERE id = $1 ${mode} NOWAIT`, [segmentId]);
        return true;
      } catch (err) {
        if ((err as { driverError?: { code?: string } }).driverError?.code === '55P03') return false;
        throw err;
      }
    });

  beforeAll(async () => {
    ds = await new DataSource(buildDataSourceOptions(process.env.DATABASE_URL ?? '', 4)).initialize();
    artifacts = new MediaArtifactsRepository(ds);
    transcripts = new TranscriptSegmentsRepository(ds);
    audio = new AudioSegmentsRepository(ds);
  });

  afterAll(async () => {
    await ds.destroy();
  });

  describe('SessionsRepository.existingIds (what SessionsService.existingIds answers)', () => {
    it('answers which of the ids are sessions, once each', async () => {
      const sessions = new SessionsRepository(ds);
      const [a, b] = [await newSession(), await newSession()];
      const gone = randomUUID();
      expect(await sessions.existingIds([a, gone, b, a])).toEqual(new Set([a, b]));
      expect(await sessions.existingIds([gone])).toEqual(new Set());
      expect(await sessions.existingIds([])).toEqual(new Set());
    });
  });

  describe('MediaArtifactsRepository', () => {
    const row = (sessionId: string, rtmsStreamId: string, key: string, over: Partial<ArtifactRow> = {}): ArtifactRow => ({
      sessionId,
      rtmsStreamId,
      kind: 'video_frame',
      userId: '16778240',
      userName: 'Ann',
      storageKey: key,
      contentType: 'image/jpeg',
      bytes: 10,
      sha256: 'a'.repeat(64),
      capturedAt: new Date(1_750_690_000_000),
      durationMs: null,
      meta: { n: 1 },
      ...over,
    });

    it('savedFrames: per participant and frame kind, how many frames the session stored and the last one\'s Zoom time', async () => {
      const session = await newSession();
      const other = await newSession();
      const stream = `st-${uniq()}`;
      await artifacts.upsertMany([
        row(session, stream, `${session}/v1.jpg`, { capturedAt: new Date(1_750_690_000_000) }),
        row(session, stream, `${session}/v2.jpg`, { capturedAt: new Date(1_750_690_001_234) }),
        row(session, stream, `${session}/s1.jpg`, { kind: 'share_frame', userId: '7', capturedAt: new Date(1_750_690_002_000) }),
        row(session, stream, `${session}/c1.json`, { kind: 'chat', userId: '7' }),
        row(other, stream, `${other}/v1.jpg`),
      ]);
      const saved = await artifacts.savedFrames(session);
      expect(saved.sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
        { kind: 'deskshare', userId: '7', saved: 1, lastTs: 1_750_690_002_000 },
        { kind: 'video', userId: '16778240', saved: 2, lastTs: 1_750_690_001_234 },
      ]);
      expect(await artifacts.savedFrames(await newSession())).toEqual([]);
    });

    it('upsertMany inserts rows once per storage key and updates them on a retry', async () => {
      const session = await newSession();
      const stream = `art-${uniq()}`;
      const [k1, k2] = [`${session}/video/a/1.jpg`, `${session}/video/a/2.jpg`];
      // The same frame twice in one batch is one row.
      const first = await artifacts.upsertMany([row(session, stream, k1), row(session, stream, k2), row(session, stream, k1)]);
      expect([...first.keys()].sort()).toEqual([k1, k2]);
      const again = await artifacts.upsertMany([row(session, stream, k1, { bytes: 99, sha256: 'b'.repeat(64), meta: { n: 2 }, durationMs: 40 })]);
      expect(again.get(k1)).toBe(first.get(k1));
      const rows: Array<{ id: string; bytes: string; sha256: string; meta: unknown; duration_ms: number | null }> = await ds.query(
        `SELECT id, bytes::text, sha256, meta, duration_ms FROM media_artifacts WHERE rtms_stream_id = $1 ORDER BY storage_key`,
        [stream],
      );
      expect(rows).toEqual([
        { id: first.get(k1), bytes: '99', sha256: 'b'.repeat(64), meta: { n: 2 }, duration_ms: 40 },
        { id: first.get(k2), bytes: '10', sha256: 'a'.repeat(64), meta: { n: 1 }, duration_ms: null },
      ]);
      expect(await artifacts.upsertMany([])).toEqual(new Map());
    });

    it("upsertMany runs in the caller's transaction", async () => {
      const session = await newSession();
      const stream = `art-${uniq()}`;
      await inTx(async (em) => {
        await artifacts.upsertMany([row(session, stream, `${session}/x.jpg`)], em);
        expect(await em.query(`SELECT 1 FROM media_artifacts WHERE rtms_stream_id = $1`, [stream])).toHaveLength(1);
      });
      expect(await count(`SELECT 1 FROM media_artifacts WHERE rtms_stream_id = $1`, [stream])).toBe(0);
    });

    it('objectsForStream and deleteForStream see only their stream; the deletion returns the objects its rows recorded, at their row version', async () => {
      const session = await newSession();
      const [s1, s2] = [`art-${uniq()}`, `art-${uniq()}`];
      await artifacts.upsertMany([row(session, s1, `${s1}/a.jpg`, { bytes: 7 }), row(session, s1, `${s1}/b.jpg`, { bytes: 5 }), row(session, s2, `${s2}/c.jpg`, { bytes: 3 })]);
      const byKey = <T extends { storageKey: string }>(xs: T[]) => [...xs].sort((a, b) => a.storageKey.localeCompare(b.storageKey));
      const listed = byKey(await artifacts.objectsForStream(s1));
      expect(listed).toEqual([
        { storageKey: `${s1}/a.jpg`, bytes: 7, rowVersion: expect.stringMatching(/^\d+$/) },
        { storageKey: `${s1}/b.jpg`, bytes: 5, rowVersion: expect.stringMatching(/^\d+$/) },
      ]);
      expect(await artifacts.countForSession(session)).toBe(3);
      // A re-save rewrites b's row: a new version; a's is as listed.
      await artifacts.upsertMany([row(session, s1, `${s1}/b.jpg`, { bytes: 6 })]);
      const deleted = byKey(await artifacts.deleteForStream(s1));
      expect(deleted).toEqual([listed[0], { storageKey: `${s1}/b.jpg`, bytes: 6, rowVersion: expect.any(String) }]);
      expect(deleted[1].rowVersion).not.toBe(listed[1].rowVersion);
      expect(await artifacts.deleteForStream(s1)).toEqual([]);
      expect(await artifacts.objectsForStream(s1)).toEqual([]);
      expect(await artifacts.objectsForStream(s2)).toEqual([{ storageKey: `${s2}/c.jpg`, bytes: 3, rowVersion: expect.any(String) }]);
    });

    it('findPageForSession pages oldest first after the cursor, with the filters', async () => {
      const session = await newSession();
      const stream = `art-${uniq()}`;
      const at = (s: number) => new Date(1_750_690_000_000 + s * 1000);
      await artifacts.upsertMany([
        row(session, stream, `${stream}/1.jpg`, { capturedAt: at(1) }),
        row(session, stream, `${stream}/2.jpg`, { capturedAt: at(2), userId: '2' }),
        row(session, stream, `${stream}/3.wav`, { capturedAt: at(3), kind: 'audio_segment' }),
        row(session, stream, `${stream}/4.jpg`, { capturedAt: at(4) }),
      ]);
      const keys = (rows: Array<{ storageKey: string }>) => rows.map((r) => r.storageKey.slice(stream.length + 1));
      const first = await artifacts.findPageForSession(session, {}, 2);
      expect(keys(first)).toEqual(['1.jpg', '2.jpg', '3.wav']); // limit + 1: another page follows
      const next = await artifacts.findPageForSession(session, {}, 2, { createdAt: first[1].capturedAt.toISOString(), id: first[1].id });
      expect(keys(next)).toEqual(['3.wav', '4.jpg']);
      expect(keys(await artifacts.findPageForSession(session, { kind: 'video_frame', userId: '16778240' }, 10))).toEqual(['1.jpg', '4.jpg']);
      expect(keys(await artifacts.findPageForSession(session, { from: at(2).toISOString(), to: at(4).toISOString() }, 10))).toEqual(['2.jpg', '3.wav']);
      expect(await artifacts.findPageForSession(await newSession(), {}, 10)).toEqual([]);
    });
  });

  describe('TranscriptSegmentsRepository', () => {
    const line = (sessionId: string, rtmsStreamId: string, ts: number, over: Partial<TranscriptRow> = {}): TranscriptRow => ({
      sessionId,
      rtmsStreamId,
      userId: '101',
      userName: 'Ann',
      text: `line at ${ts}`,
      startMs: ts - 1000,
      endMs: ts,
      timestampMs: ts,
      language: 9,
      attribute: null,
      ...over,
    });

    it('insertNew stores each line once and returns only the new ones', async () => {
      const session = await newSession();
      const stream = `tr-${uniq()}`;
      const lines = [line(session, stream, 1000), line(session, stream, 2000)];
      expect((await transcripts.insertNew(lines)).length).toBe(2);
      expect((await transcripts.insertNew([...lines, line(session, stream, 3000)])).length).toBe(1);
      const rows = await ds.query(`SELECT user_id, user_name, text, start_ms::int, end_ms::int, timestamp_ms::int, language, attribute FROM transcript_segments WHERE rtms_stream_id = $1 ORDER BY timestamp_ms`, [stream]);
      expect(rows).toEqual([1000, 2000, 3000].map((t) => ({ user_id: '101', user_name: 'Ann', text: `line at ${t}`, start_ms: t - 1000, end_ms: t, timestamp_ms: t, language: 9, attribute: null })));
      expect(await transcripts.insertNew([])).toEqual([]);
    });

    it('insertNew fails on a session that does not exist (the FK the savers rely on)', async () => {
      await expect(transcripts.insertNew([line(randomUUID(), `tr-${uniq()}`, 1000)])).rejects.toMatchObject({ driverError: { code: '23503' } });
    });

    it('deleteForStream deletes only that stream', async () => {
      const session = await newSession();
      const [s1, s2] = [`tr-${uniq()}`, `tr-${uniq()}`];
      await transcripts.insertNew([line(session, s1, 1000), line(session, s2, 1000)]);
      await transcripts.deleteForStream(s1);
      expect(await count(`SELECT 1 FROM transcript_segments WHERE rtms_stream_id = $1`, [s1])).toBe(0);
      expect(await count(`SELECT 1 FROM transcript_segments WHERE rtms_stream_id = $1`, [s2])).toBe(1);
    });
  });

  describe('AudioSegmentsRepository', () => {
    const T0 = 1_750_690_000_000;
    const seg = (sessionId: string, rtmsStreamId: string, userId: string, segmentStartMs = T0): NewSegment => ({
      key: `${rtmsStreamId}|${userId}|${segmentStartMs}`,
      sessionId,
      rtmsStreamId,
      userId,
      userName: `U${userId}`,
      segmentStartMs,
      segmentMs: 2000,
      sampleRate: 16000,
      channels: 1,
    });
    const part = (segmentId: string, fromTs: number, over: Partial<NewPart> = {}): NewPart => ({
      segmentId,
      packetTs: [fromTs, fromTs + 20, fromTs + 40],
      packetLen: [640, 640, 640],
      fileOffset: 0,
      touch: false,
      ...over,
    });
    const statusOf = async (id: string): Promise<string> => (await ds.query(`SELECT status FROM audio_segments WHERE id = $1`, [id]))[0].status as string;
    /** Creates segments for fresh (stream, users) on `host` and returns their ids in order. */
    const created = async (host: string, users: string[], sessionId?: string): Promise<string[]> => {
      const session = sessionId ?? (await newSession());
      const stream = `au-${uniq()}`;
      const segs = users.map((u) => seg(session, stream, u));
      await audio.insertSegments(segs, host);
      const ids = await audio.findIds(segs, host);
      return segs.map((s) => ids.get(s.key)!);
    };

    it('insertSegments creates missing segments once per spool host; findIds answers by key and host', async () => {
      const session = await newSession();
      const stream = `au-${uniq()}`;
      const [hostA, hostB] = [`a-${uniq()}`, `b-${uniq()}`];
      const segs = [seg(session, stream, '1'), seg(session, stream, '2'), seg(session, stream, '1', T0 + 2000)];
      await audio.insertSegments(segs, hostA);
      const ids = await audio.findIds(segs, hostA);
      expect([...ids.keys()].sort()).toEqual(segs.map((s) => s.key).sort());
      // Again: nothing new, the same ids.
      await audio.insertSegments(segs, hostA);
      expect(await audio.findIds(segs, hostA)).toEqual(ids);
      expect(await count(`SELECT 1 FROM audio_segments WHERE rtms_stream_id = $1`, [stream])).toBe(3);
      // Another host spools its own segment for the same window.
      expect(await audio.findIds(segs, hostB)).toEqual(new Map());
      await audio.insertSegments([segs[0]], hostB);
      const other = await audio.findIds(segs, hostB);
      expect(other.size).toBe(1);
      expect(other.get(segs[0].key)).not.toBe(ids.get(segs[0].key));
      const row = await ds.query(`SELECT user_name, segment_ms, sample_rate, channels, status, spool_host FROM audio_segments WHERE id = $1`, [ids.get(segs[1].key)]);
      expect(row).toEqual([{ user_name: 'U2', segment_ms: 2000, sample_rate: 16000, channels: 1, status: 'open', spool_host: hostA }]);
    });

    it('insertSegments leaves out the segments of a session that is gone, without failing', async () => {
      const live = await newSession();
      const gone = randomUUID();
      const stream = `au-${uniq()}`;
      const host = `h-${uniq()}`;
      const segs = [seg(live, stream, '1'), seg(gone, `${stream}-gone`, '2'), seg(live, stream, '3')];
      await expect(audio.insertSegments(segs, host)).resolves.toBeUndefined();
      const ids = await audio.findIds(segs, host);
      expect([...ids.keys()].sort()).toEqual([segs[0].key, segs[2].key].sort());
      // Other errors are not swallowed.
      await expect(audio.insertSegments([{ ...seg(live, stream, '4'), channels: 'x' as unknown as number }], host)).rejects.toThrow();
    });

    it('insertParts records parts once, reports segments that vanished or are sealed, and reopens written ones', async () => {
      const host = `h-${uniq()}`;
      const [open, final, sealed, vanished] = await created(host, ['1', '2', '3', '4']);
      await ds.query(`UPDATE audio_segments SET status = 'final' WHERE id = $1`, [final]);
      await ds.query(`UPDATE audio_segments SET status = 'sealed' WHERE id = $1`, [sealed]);
      await ds.query(`DELETE FROM audio_segments WHERE id = $1`, [vanished]);
      const parts = [part(open, T0, { fileOffset: 0 }), part(final, T0, { fileOffset: 1920 }), part(sealed, T0 + 60, { fileOffset: 3840 }), part(vanished, T0, { fileOffset: 5760 })];
      const status = await audio.insertParts(parts, 'audio-1-a-0.pcm');
      // Statuses as locked at the start of the statement; the final one is reopened by it.
      expect(status).toEqual(new Map([[open, 'open'], [final, 'final'], [sealed, 'sealed']]));
      expect(await statusOf(final)).toBe('open');
      expect(await statusOf(sealed)).toBe('sealed');
      // (A sealed segment takes no part: late audio, which would pin its spool file.)
      const stored = await audio.findParts([open, final, sealed, vanished]);
      expect(stored.map((p) => [p.segment_id, p.first_ts, p.last_ts, p.packet_ts, p.packet_len, p.spool_file, p.file_offset, p.pcm])).toEqual([
        [open, String(T0), String(T0 + 40), [T0, T0 + 20, T0 + 40].map(String), [640, 640, 640], 'audio-1-a-0.pcm', '0', null],
        [final, String(T0), String(T0 + 40), [T0, T0 + 20, T0 + 40].map(String), [640, 640, 640], 'audio-1-a-0.pcm', '1920', null],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)));
      // A flush written again (its answer was lost) adds nothing.
      await audio.insertParts(parts, 'audio-1-a-1.pcm');
      expect(await count(`SELECT 1 FROM audio_parts WHERE segment_id = ANY($1::uuid[])`, [[open, final, sealed, vanished]])).toBe(2);
      expect(await audio.insertParts([], 'audio-1-a-1.pcm')).toEqual(new Map());
    });

    it('insertParts refreshes last_part_at only where asked', async () => {
      const host = `h-${uniq()}`;
      const [touched, untouched] = await created(host, ['1', '2']);
      await ds.query(`UPDATE audio_segments SET last_part_at = now() - interval '1 hour' WHERE id = ANY($1::uuid[])`, [[touched, untouched]]);
      await audio.insertParts([part(touched, T0, { touch: true }), part(untouched, T0)], 'f.pcm');
      const rows: Array<{ id: string; fresh: boolean }> = await ds.query(`SELECT id, last_part_at > now() - interval '1 minute' AS fresh FROM audio_segments WHERE id = ANY($1::uuid[])`, [[touched, untouched]]);
      expect(Object.fromEntries(rows.map((r) => [r.id, r.fresh]))).toEqual({ [touched]: true, [untouched]: false });
    });

    it('insertParts key-share-locks its segments and no-key-update-locks only the ones it updates', async () => {
      const host = `h-${uniq()}`;
      const [touched, plain] = await created(host, ['1', '2']);
      const tx = await holdTx();
      try {
        await audio.insertParts([part(touched, T0, { touch: true }), part(plain, T0)], 'f.pcm', tx.em);
        // Neither can be deleted or claimed by the WAV writer (FOR UPDATE) while the flush is open…
        expect(await canLock(plain, 'FOR UPDATE')).toBe(false);
        expect(await canLock(touched, 'FOR UPDATE')).toBe(false);
        await inTx(async (em) => expect(await audio.claimOpen([touched, plain], host, em)).toEqual([]));
        // …another flush may key-share-lock both and update the one this flush did not touch…
        expect(await canLock(plain, 'FOR KEY SHARE')).toBe(true);
        expect(await canLock(touched, 'FOR KEY SHARE')).toBe(true);
        expect(await canLock(plain, 'FOR NO KEY UPDATE')).toBe(true);
        // …but not the one it refreshed.
        expect(await canLock(touched, 'FOR NO KEY UPDATE')).toBe(false);
      } finally {
        await tx.release();
      }
      expect(await canLock(touched, 'FOR UPDATE')).toBe(true);
    });

    it('claimOpen takes this host’s open segments in id order, skips what another writer holds, and counts earlier hosts', async () => {
      const session = await newSession();
      const stream = `au-${uniq()}`;
      const [early, host] = [`e-${uniq()}`, `h-${uniq()}`];
      const s1 = seg(session, stream, '1');
      await audio.insertSegments([s1], early); // another host spooled this window first
      await audio.insertSegments([s1, seg(session, stream, '2'), seg(session, stream, '3')], host);
      const ids = await audio.findIds([s1, seg(session, stream, '2'), seg(session, stream, '3')], host);
      const [a, b, c] = [s1.key, `${stream}|2|${T0}`, `${stream}|3|${T0}`].map((k) => ids.get(k)!);
      const [earlyId] = [...(await audio.findIds([s1], early)).values()];
      await ds.query(`UPDATE audio_segments SET status = 'final' WHERE id = $1`, [c]);
      const held = await holdTx();
      try {
        const mine = await audio.claimOpen([a, b, c, earlyId], host, held.em);
        expect(mine.map((s) => s.id)).toEqual([a, b].sort());
        const first = mine.find((s) => s.id === a)!;
        expect(first).toMatchObject({ session_id: session, rtms_stream_id: stream, user_id: '1', segment_start_ms: String(T0), spool_host: host, status: 'open', earlier: 1 });
        expect(mine.find((s) => s.id === b)!.earlier).toBe(0);
        // Another writer skips them instead of waiting.
        await inTx(async (em) => expect(await audio.claimOpen([a, b], host, em)).toEqual([]));
      } finally {
        await held.release();
      }
      await inTx(async (em) => expect((await audio.claimOpen([a, b], host, em)).map((s) => s.id)).toEqual([a, b].sort()));
      await inTx(async (em) => expect(await audio.claimOpen([], host, em)).toEqual([]));
    });

    it('findParts returns the parts of the given segments by segment and first packet', async () => {
      const host = `h-${uniq()}`;
      const [x, y] = await created(host, ['1', '2']);
      await audio.insertParts([part(x, T0 + 60), part(y, T0)], 'f.pcm');
      await audio.insertParts([part(x, T0)], 'g.pcm');
      const parts = await audio.findParts([x]);
      expect(parts.map((p) => [p.segment_id, p.first_ts, p.spool_file])).toEqual([
        [x, String(T0), 'g.pcm'],
        [x, String(T0 + 60), 'f.pcm'],
      ]);
      expect(await audio.findParts([])).toEqual([]);
    });

    it('markFinal records the WAV: status, rate and artifact', async () => {
      const session = await newSession();
      const host = `h-${uniq()}`;
      const [x, y] = await created(host, ['1', '2'], session);
      const ids = await artifacts.upsertMany([
        { sessionId: session, rtmsStreamId: 'wav', kind: 'audio_segment', userId: '1', userName: null, storageKey: `${session}/audio/${uniq()}.wav`, contentType: 'audio/wav', bytes: 44, sha256: 'c'.repeat(64), capturedAt: new Date(T0), durationMs: 0, meta: {} },
      ]);
      const artifactId = [...ids.values()][0];
      await audio.markFinal([
        { id: x, sampleRate: 48000, artifactId },
        { id: y, sampleRate: 8000, artifactId: null },
      ]);
      const rows = await ds.query(`SELECT id, status, sample_rate, artifact_id FROM audio_segments WHERE id = ANY($1::uuid[]) ORDER BY sample_rate DESC`, [[x, y]]);
      expect(rows).toEqual([
        { id: x, status: 'final', sample_rate: 48000, artifact_id: artifactId },
        { id: y, status: 'final', sample_rate: 8000, artifact_id: null },
      ]);
    });

    it('findIdleOpen lists this host’s open segments idle for longer than asked, oldest window first', async () => {
      const session = await newSession();
      const stream = `au-${uniq()}`;
      const host = `h-${uniq()}`;
      const segs = [seg(session, stream, '1', T0 + 2000), seg(session, stream, '1', T0), seg(session, stream, '2'), seg(session, stream, '3')];
      await audio.insertSegments(segs, host);
      const ids = await audio.findIds(segs, host);
      const [later, earlier, _fresh, written] = segs.map((s) => ids.get(s.key)!);
      await ds.query(`UPDATE audio_segments SET last_part_at = now() - interval '10 seconds' WHERE id = ANY($1::uuid[])`, [[later, earlier, written]]);
      await ds.query(`UPDATE audio_segments SET status = 'final' WHERE id = $1`, [written]);
      expect(await audio.findIdleOpen(5000, host)).toEqual([earlier, later]);
      expect(await audio.findIdleOpen(60_000, host)).toEqual([]);
      expect(await audio.findIdleOpen(5000, `other-${uniq()}`)).toEqual([]);
    });

    it('sealWritten seals segments written longer ago than the retention and drops their parts', async () => {
      const host = `h-${uniq()}`;
      const [old, recent, open] = await created(host, ['1', '2', '3']);
      await audio.insertParts([part(old, T0), part(recent, T0), part(open, T0)], 'f.pcm');
      await ds.query(`UPDATE audio_segments SET status = 'final', updated_at = now() - interval '11 minutes' WHERE id = $1`, [old]);
      await ds.query(`UPDATE audio_segments SET status = 'final' WHERE id = $1`, [recent]);
      expect(await audio.sealWritten(10, `other-${uniq()}`)).toEqual([]);
      expect(await audio.sealWritten(10, host)).toEqual([old]);
      expect(await statusOf(old)).toBe('sealed');
      expect(await statusOf(recent)).toBe('final');
      expect((await audio.findParts([old, recent, open])).map((p) => p.segment_id).sort()).toEqual([recent, open].sort());
      expect(await audio.sealWritten(10, host)).toEqual([]);
    });

    it('spoolFilesInUse names the spool files some part still points at', async () => {
      const host = `h-${uniq()}`;
      const [x] = await created(host, ['1']);
      const [used, unused] = [`audio-${uniq()}-0.pcm`, `audio-${uniq()}-1.pcm`];
      await audio.insertParts([part(x, T0)], used);
      expect(await audio.spoolFilesInUse([used, unused])).toEqual(new Set([used]));
      expect(await audio.spoolFilesInUse([])).toEqual(new Set());
    });

    it('deleteForStream deletes the stream’s segments with their parts, in the caller’s transaction', async () => {
      const session = await newSession();
      const host = `h-${uniq()}`;
      const [s1, s2] = [`au-${uniq()}`, `au-${uniq()}`];
      await audio.insertSegments([seg(session, s1, '1'), seg(session, s2, '1')], host);
      const ids = await audio.findIds([seg(session, s1, '1'), seg(session, s2, '1')], host);
      const [a, b] = [ids.get(`${s1}|1|${T0}`)!, ids.get(`${s2}|1|${T0}`)!];
      await audio.insertParts([part(a, T0), part(b, T0)], 'f.pcm');
      await inTx(async (em) => {
        await audio.deleteForStream(s1, em);
        expect(await em.query(`SELECT 1 FROM audio_segments WHERE id = $1`, [a])).toEqual([]);
      });
      expect(await count(`SELECT 1 FROM audio_segments WHERE id = $1`, [a])).toBe(1); // rolled back
      await audio.deleteForStream(s1);
      expect(await count(`SELECT 1 FROM audio_segments WHERE rtms_stream_id = $1`, [s1])).toBe(0);
      expect((await audio.findParts([a, b])).map((p) => p.segment_id)).toEqual([b]);
    });

    it('a session deleted after its segments went in takes them and their parts with it (FK cascade)', async () => {
      const session = await newSession();
      const host = `h-${uniq()}`;
      const [x] = await created(host, ['1'], session);
      await audio.insertParts([part(x, T0)], 'f.pcm');
      await ds.query(`DELETE FROM sessions WHERE id = $1`, [session]);
      expect(await audio.findParts([x])).toEqual([]);
      // The next flush reports the segment as vanished and writes nothing.
      expect(await audio.insertParts([part(x, T0 + 60)], 'f.pcm')).toEqual(new Map());
      expect(await count(`SELECT 1 FROM audio_parts WHERE segment_id = $1`, [x])).toBe(0);
    });
  });
});
