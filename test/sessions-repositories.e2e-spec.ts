import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { StreamStatus } from '../src/modules/sessions/entities/rtms-stream.entity';
import { EventProcessingStatus, EventSource } from '../src/modules/sessions/entities/session-event.entity';
import { SessionEntity, SessionStatus } from '../src/modules/sessions/entities/session.entity';
import { ParticipantsRepository } from '../src/modules/sessions/repositories/participants.repository';
import { RtmsStreamsRepository } from '../src/modules/sessions/repositories/rtms-streams.repository';
import { SessionEventsRepository, StoredZoomEventInput } from '../src/modules/sessions/repositories/session-events.repository';
import { SessionsRepository } from '../src/modules/sessions/repositories/sessions.repository';
import { keysetCursor } from '../src/common/http/keyset-page';
import { decodeCursor } from '../src/common/http/pagination';

/**
 * The sessions module's repositories against the real, migrated Postgres. Every row is
 * made here with ids unique to this run (other suites share the database) and removed
 * in afterAll.
 */
describe('sessions repositories (real Postgres)', () => {
  let ds: DataSource;
  let sessions: SessionsRepository;
  let events: SessionEventsRepository;
  let streams: RtmsStreamsRepository;
  let participants: ParticipantsRepository;
  const run = randomUUID().slice(0, 8);
  /** A numeric meeting id unique to this run and call. */
  let meetingSeq = 0;
  const meetingId = () => `9${parseInt(run, 16) % 1_000_000}${String(++meetingSeq).padStart(4, '0')}`;
  const key = (name: string) => `repo-test:${run}:${name}`;
  const createdSessions: string[] = [];

  beforeAll(async () => {
    ds = await new DataSource(buildDataSourceOptions(process.env.DATABASE_URL as string, 4)).initialize();
    sessions = new SessionsRepository(ds);
    events = new SessionEventsRepository(ds);
    streams = new RtmsStreamsRepository(ds);
    participants = new ParticipantsRepository(ds);
  });

  afterAll(async () => {
    await ds.query(`DELETE FROM session_events WHERE dedupe_key LIKE $1`, [`repo-test:${run}:%`]);
    if (createdSessions.length > 0) await ds.query(`DELETE FROM sessions WHERE id = ANY($1::uuid[])`, [createdSessions]);
    await ds.destroy();
  });

  async function newSession(fields: Partial<SessionEntity> = {}): Promise<SessionEntity> {
    const s = await sessions.insert({ meetingId: meetingId(), ...fields });
    createdSessions.push(s.id);
    return s;
  }

  /** Pins a row's created_at, so keyset order does not depend on the clock's resolution. */
  async function setCreatedAt(table: 'sessions' | 'session_events' | 'rtms_streams', id: string, at: string): Promise<void> {
    await ds.query(`UPDATE ${table} SET created_at = $2 WHERE id = $1`, [id, at]);
  }

  describe('SessionsRepository', () => {
    it('addReceivedCounts sums counts per name (concurrent streams lose nothing), merges participants_seen by maximum; a save never overwrites them', async () => {
      const s = await newSession();
      expect(s.receivedCounts).toEqual({});
      await Promise.all([
        sessions.addReceivedCounts(s.id, { audio_messages: 10, audio_bytes: 6400, participants_seen: 2 }),
        sessions.addReceivedCounts(s.id, { audio_messages: 5, chat_messages: 1, participants_seen: 3 }),
      ]);
      await sessions.addReceivedCounts(s.id, { audio_messages: 1, participants_seen: 1, events: 4 });
      const loaded = (await sessions.findById(s.id))!;
      expect(loaded.receivedCounts).toEqual({ audio_messages: 16, audio_bytes: 6400, chat_messages: 1, participants_seen: 3, events: 4 });
      // An entity loaded before a stream adds, then saved, keeps the stream's counts.
      const stale = (await sessions.findById(s.id))!;
      await sessions.addReceivedCounts(s.id, { audio_messages: 4 });
      stale.metadata = { saved: true };
      await sessions.save(stale);
      expect((await sessions.findById(s.id))!.receivedCounts).toMatchObject({ audio_messages: 20 });
      // A session that is gone: nothing happens.
      await sessions.addReceivedCounts(randomUUID(), { audio_messages: 1 });
    });

    it('insert fills the database defaults and returns the row', async () => {
      const s = await newSession({ metadata: { team: 'qa' } });
      expect(s.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(s.status).toBe(SessionStatus.Created);
      expect(s.createdAt).toBeInstanceOf(Date);
      const [row] = await ds.query(`SELECT status, metadata, capture_policy FROM sessions WHERE id = $1`, [s.id]);
      expect(row).toEqual({ status: 'created', metadata: { team: 'qa' }, capture_policy: {} });
    });

    it('insert uses the caller\'s transaction when given one', async () => {
      const id = randomUUID();
      await expect(
        ds.transaction(async (em) => {
          await sessions.insert({ id, meetingId: meetingId() }, em);
          expect(await sessions.findById(id, em)).not.toBeNull();
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await sessions.findById(id)).toBeNull();
    });

    it('save writes a loaded session\'s changes back', async () => {
      const s = await newSession();
      s.status = SessionStatus.Streaming;
      s.failureReason = 'none';
      await sessions.save(s);
      expect(await sessions.findById(s.id)).toMatchObject({ status: SessionStatus.Streaming, failureReason: 'none' });
    });

    it('findById finds a session, or null', async () => {
      const s = await newSession();
      expect((await sessions.findById(s.id))?.meetingId).toBe(s.meetingId);
      expect(await sessions.findById(randomUUID())).toBeNull();
    });

    it('findByIdOrFail throws for a missing session', async () => {
      const s = await newSession();
      expect((await sessions.findByIdOrFail(s.id)).id).toBe(s.id);
      await expect(sessions.findByIdOrFail(randomUUID())).rejects.toThrow(/Could not find any entity/);
    });

    it('findByIdForUpdate holds a row lock until the transaction ends', async () => {
      const s = await newSession();
      await ds.transaction(async (em) => {
        expect((await sessions.findByIdForUpdate(s.id, em))?.id).toBe(s.id);
        await expect(ds.query(`SELECT id FROM sessions WHERE id = $1 FOR UPDATE NOWAIT`, [s.id])).rejects.toThrow(/could not obtain lock/);
      });
      await expect(ds.query(`SELECT id FROM sessions WHERE id = $1 FOR UPDATE NOWAIT`, [s.id])).resolves.toHaveLength(1);
      await ds.transaction(async (em) => expect(await sessions.findByIdForUpdate(randomUUID(), em)).toBeNull());
    });

    it('deleteById deletes the row and what cascades from it, and says whether it did', async () => {
      const s = await newSession();
      await events.insert(s.id, { source: EventSource.Api, eventType: 'x', payload: {}, dedupeKey: key('cascade') });
      expect(await sessions.deleteById(s.id)).toBe(true);
      expect(await sessions.findById(s.id)).toBeNull();
      expect(await ds.query(`SELECT 1 FROM session_events WHERE dedupe_key = $1`, [key('cascade')])).toHaveLength(0);
      expect(await sessions.deleteById(s.id)).toBe(false);
    });

    it('findPage filters, orders newest first, returns limit + 1 rows and continues after a cursor', async () => {
      const m = meetingId();
      const rows = [];
      for (let i = 0; i < 4; i++) {
        const s = await newSession({ meetingId: m, status: i === 3 ? SessionStatus.Stopped : SessionStatus.Created });
        await setCreatedAt('sessions', s.id, `2020-01-0${i + 1}T00:00:00Z`);
        rows.push(s);
      }
      const ids = (list: Array<{ row: SessionEntity }>) => list.map((k) => k.row.id);
      expect(ids(await sessions.findPage({ meetingId: m }, 2))).toEqual([rows[3].id, rows[2].id, rows[1].id]);
      expect(ids(await sessions.findPage({ meetingId: m, status: SessionStatus.Created }, 10))).toEqual([rows[2].id, rows[1].id, rows[0].id]);
      expect(ids(await sessions.findPage({ meetingId: m, createdFrom: '2020-01-02T00:00:00Z', createdTo: '2020-01-04T00:00:00Z' }, 10))).toEqual([rows[2].id, rows[1].id]);
      expect(ids(await sessions.findPage({ meetingId: m }, 10, { createdAt: '2020-01-03T00:00:00.000Z', id: rows[2].id }))).toEqual([rows[1].id, rows[0].id]);
    });

    it('lockMeeting takes a transaction-scoped advisory lock on the meeting', async () => {
      const identity = `uuid-${run}==`;
      const tryLock = async () => (await ds.query(`SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok`, [`meeting:${identity}`]))[0].ok;
      await ds.transaction(async (em) => {
        await sessions.lockMeeting(identity, em);
        expect(await tryLock()).toBe(false);
      });
      expect(await tryLock()).toBe(true);
    });

    it('findLatestOpenByMeetingUuid picks the newest open session of that uuid', async () => {
      const uuid = `open-uuid-${run}==`;
      const older = await newSession({ meetingUuid: uuid, status: SessionStatus.Streaming });
      const newer = await newSession({ meetingUuid: uuid, status: SessionStatus.Paused });
      const stopped = await newSession({ meetingUuid: uuid, status: SessionStatus.Stopped });
      await setCreatedAt('sessions', older.id, '2021-01-01T00:00:00Z');
      await setCreatedAt('sessions', newer.id, '2021-01-02T00:00:00Z');
      await setCreatedAt('sessions', stopped.id, '2021-01-03T00:00:00Z');
      expect((await sessions.findLatestOpenByMeetingUuid(uuid))?.id).toBe(newer.id);
      expect(await sessions.findLatestOpenByMeetingUuid(`other-${run}`)).toBeNull();
    });

    it('findLatestOpenByMeetingId matches open sessions without a uuid or with this one', async () => {
      const m = meetingId();
      const unbound = await newSession({ meetingId: m });
      const otherUuid = await newSession({ meetingId: m, meetingUuid: `else-${run}==` });
      const failed = await newSession({ meetingId: m, status: SessionStatus.Failed });
      await setCreatedAt('sessions', unbound.id, '2022-01-01T00:00:00Z');
      await setCreatedAt('sessions', otherUuid.id, '2022-01-02T00:00:00Z');
      await setCreatedAt('sessions', failed.id, '2022-01-03T00:00:00Z');
      expect((await sessions.findLatestOpenByMeetingId(m, `mine-${run}==`))?.id).toBe(unbound.id);
      expect((await sessions.findLatestOpenByMeetingId(m, `else-${run}==`))?.id).toBe(otherUuid.id);
      expect(await sessions.findLatestOpenByMeetingId(meetingId(), `mine-${run}==`)).toBeNull();
    });
  });

  describe('SessionEventsRepository', () => {
    const zoomEvent = (name: string, fields: Partial<StoredZoomEventInput> = {}): StoredZoomEventInput => ({
      source: EventSource.Webhook,
      eventType: 'meeting.rtms_started',
      dedupeKey: key(name),
      rtmsStreamId: `stream-${run}`,
      eventTs: 1727384100000,
      payload: { event: 'meeting.rtms_started', name },
      ...fields,
    });

    it('insertZoomEvents stores a batch in one statement and reports redeliveries and in-batch copies as null', async () => {
      expect(await events.insertZoomEvents([])).toEqual([]);
      const [first] = await events.insertZoomEvents([zoomEvent('a')]);
      expect(first).toMatch(/^[0-9a-f-]{36}$/);
      const ids = await events.insertZoomEvents([zoomEvent('b'), zoomEvent('a'), zoomEvent('c', { payloadJson: '{"raw": true}' }), zoomEvent('b')]);
      expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(ids[1]).toBeNull();
      expect(ids[2]).toMatch(/^[0-9a-f-]{36}$/);
      expect(ids[3]).toBeNull();
      const rows = await ds.query(`SELECT id, source, status, event_ts, rtms_stream_id, payload, processed_at FROM session_events WHERE dedupe_key = ANY($1) ORDER BY dedupe_key`, [
        [key('a'), key('b'), key('c')],
      ]);
      expect(rows).toEqual([
        { id: first, source: 'webhook', status: 'received', event_ts: '1727384100000', rtms_stream_id: `stream-${run}`, payload: { event: 'meeting.rtms_started', name: 'a' }, processed_at: null },
        expect.objectContaining({ id: ids[0], status: 'received', payload: { event: 'meeting.rtms_started', name: 'b' } }),
        expect.objectContaining({ id: ids[2], status: 'received', payload: { raw: true } }),
      ]);
    });

    it('findById finds a stored event, or null', async () => {
      const [id] = await events.insertZoomEvents([zoomEvent('find')]);
      expect(await events.findById(id as string)).toMatchObject({ id, dedupeKey: key('find'), status: EventProcessingStatus.Received, sessionId: null });
      expect(await events.findById(randomUUID())).toBeNull();
    });

    it('findReceivedZoomEvents lists Zoom events still received after the given age, oldest first', async () => {
      const [older, newer, fromWs, done] = (await events.insertZoomEvents([
        zoomEvent('pending-1'),
        zoomEvent('pending-2'),
        zoomEvent('pending-ws', { source: EventSource.EventWebSocket }),
        zoomEvent('pending-done'),
      ])) as string[];
      const api = await events.insert(null, { source: EventSource.Api, eventType: 'x', payload: {}, status: EventProcessingStatus.Received, dedupeKey: key('pending-api') });
      await setCreatedAt('session_events', older, '2020-01-01T00:00:00Z');
      await setCreatedAt('session_events', newer, '2020-01-02T00:00:00Z');
      await setCreatedAt('session_events', fromWs, '2020-01-03T00:00:00Z');
      await events.markFinished(done, EventProcessingStatus.Processed);
      const mine = new Set([older, newer, fromWs, done, api.id]);
      const ids = async (olderThanMs: number, limit: number) => (await events.findReceivedZoomEvents(olderThanMs, limit)).map((e) => e.id);
      const found = (await ids(0, 100_000)).filter((id) => mine.has(id));
      expect(found).toEqual([older, newer, fromWs]);
      // Not old enough yet: the last one was stored just now.
      const [fresh] = (await events.insertZoomEvents([zoomEvent('pending-fresh')])) as string[];
      expect(await ids(60_000, 100_000)).not.toContain(fresh);
      expect(await ids(0, 1)).toHaveLength(1);
      await events.markFinished(fresh, EventProcessingStatus.Ignored);
      for (const id of [older, newer, fromWs]) await events.markFinished(id, EventProcessingStatus.Ignored);
      await events.markFinished(api.id, EventProcessingStatus.Ignored);
    });

    it('findReceivedZoomEvents pages on after a cursor over (created_at, id): every event once, ties on created_at and microseconds kept', async () => {
      const stored = (await events.insertZoomEvents(Array.from({ length: 7 }, (_, i) => zoomEvent(`page-${i}`)))) as string[];
      // Before any other file's events. Three share one created_at (only the id orders them); the others differ by a microsecond.
      const at = ['1990-06-01T00:00:00.000001Z', '1990-06-01T00:00:00.000001Z', '1990-06-01T00:00:00.000001Z', '1990-06-01T00:00:00.000002Z', '1990-06-01T00:00:00.000003Z', '1990-06-01T00:00:00.000004Z', '1990-06-01T00:00:00.000005Z'];
      for (const [i, id] of stored.entries()) await setCreatedAt('session_events', id, at[i]);
      const mine = new Set(stored);
      const seen: string[] = [];
      let after: Awaited<ReturnType<typeof events.findReceivedZoomEvents>>[number] | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await events.findReceivedZoomEvents(0, 2, after);
        seen.push(...page.map((e) => e.id).filter((id) => mine.has(id)));
        if (page.length < 2 || seen.length === stored.length) break;
        after = page[page.length - 1];
      }
      const byTie = [...stored.slice(0, 3)].sort();
      expect(seen).toEqual([...byTie, ...stored.slice(3)]);
      for (const id of stored) await events.markFinished(id, EventProcessingStatus.Ignored);
    });

    it('markFinished sets the final status, processed_at, and session and error only when given', async () => {
      const s = await newSession();
      const [id] = (await events.insertZoomEvents([zoomEvent('finish')])) as string[];
      await events.markFinished(id, EventProcessingStatus.Failed, { error: 'boom' });
      expect(await events.findById(id)).toMatchObject({ status: EventProcessingStatus.Failed, error: 'boom', sessionId: null, processedAt: expect.any(Date) });
      await events.markFinished(id, EventProcessingStatus.Processed, { sessionId: s.id });
      expect(await events.findById(id)).toMatchObject({ status: EventProcessingStatus.Processed, error: 'boom', sessionId: s.id });
      await events.markFinished(id, EventProcessingStatus.Processed, { error: null });
      expect((await events.findById(id))?.error).toBeNull();
    });

    it('insert records a processed timeline event with a random dedupe key, in the caller\'s transaction when given', async () => {
      const s = await newSession();
      const e = await events.insert(s.id, { source: EventSource.Worker, eventType: 'stream.connected', payload: { n: 1 }, rtmsStreamId: 'st' });
      expect(e).toMatchObject({ sessionId: s.id, status: EventProcessingStatus.Processed, error: null, rtmsStreamId: 'st', processedAt: expect.any(Date) });
      expect(e.dedupeKey).toMatch(/^worker:[0-9a-f-]{36}$/);
      // One INSERT … RETURNING (no transaction of its own): the generated id and created_at come back on the entity.
      expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(e.createdAt).toEqual(expect.any(Date));
      expect(await events.findById(e.id)).toMatchObject({ eventType: 'stream.connected', payload: { n: 1 }, createdAt: e.createdAt });
      const refused = await events.insert(s.id, { source: EventSource.Webhook, eventType: 'session.transition_refused', payload: {}, status: EventProcessingStatus.Rejected, error: 'no', dedupeKey: key('refused') });
      expect(await events.findById(refused.id)).toMatchObject({ status: EventProcessingStatus.Rejected, error: 'no', dedupeKey: key('refused') });
      await expect(
        ds.transaction(async (em) => {
          await events.insert(s.id, { source: EventSource.Api, eventType: 'rolled.back', payload: {}, dedupeKey: key('rolled-back') }, em);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await ds.query(`SELECT 1 FROM session_events WHERE dedupe_key = $1`, [key('rolled-back')])).toHaveLength(0);
    });

    it('findPageForSession pages a session\'s events newest first by keyset', async () => {
      const s = await newSession();
      const other = await newSession();
      const rows = [];
      for (let i = 0; i < 3; i++) {
        const e = await events.insert(s.id, { source: EventSource.Api, eventType: `e${i}`, payload: {} });
        await setCreatedAt('session_events', e.id, `2020-01-0${i + 1}T00:00:00Z`);
        rows.push(e);
      }
      await events.insert(other.id, { source: EventSource.Api, eventType: 'elsewhere', payload: {} });
      const page = await events.findPageForSession(s.id, 1);
      expect(page.map((k) => k.row.eventType)).toEqual(['e2', 'e1']);
      const rest = await events.findPageForSession(s.id, 5, { createdAt: '2020-01-02T00:00:00.000Z', id: rows[1].id });
      expect(rest.map((k) => k.row.eventType)).toEqual(['e0']);
    });

    it('findPageForSession does not skip events created within the same millisecond as a page boundary', async () => {
      const s = await newSession();
      const made = [];
      for (let i = 0; i < 3; i++) made.push(await events.insert(s.id, { source: EventSource.Api, eventType: `same-ms-${i}`, payload: {} }));
      // 1 µs apart: a cursor cut to milliseconds would lose the events after the boundary.
      for (let i = 0; i < 3; i++) {
        await ds.query(`UPDATE session_events SET created_at = '2021-06-01T00:00:00.000001Z'::timestamptz + ($2::int * interval '1 microsecond') WHERE id = $1`, [made[i].id, i]);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await events.findPageForSession(s.id, 1, cursor ? decodeCursor(cursor) : undefined);
        seen.push(page[0].row.eventType);
        cursor = page.length > 1 ? keysetCursor(page[0]) : null;
      } while (cursor);
      expect(seen).toEqual(['same-ms-2', 'same-ms-1', 'same-ms-0']);
    });
  });

  describe('RtmsStreamsRepository', () => {
    const streamId = (name: string) => `${run}-${name}`;

    it('insert and findByStreamId round-trip a stream with its defaults', async () => {
      const s = await newSession();
      const inserted = await streams.insert({ rtmsStreamId: streamId('ins'), sessionId: s.id, serverUrls: 'wss://a', status: StreamStatus.Pending });
      expect(inserted).toMatchObject({ failoverCount: 0, reconnectCounts: {} });
      expect(await streams.findByStreamId(streamId('ins'))).toMatchObject({ id: inserted.id, sessionId: s.id, serverUrls: 'wss://a', status: StreamStatus.Pending });
      expect(await streams.findByStreamId(streamId('none'))).toBeNull();
    });

    it('findBySession lists a session\'s streams oldest first', async () => {
      const s = await newSession();
      const b = await streams.insert({ rtmsStreamId: streamId('b'), sessionId: s.id, serverUrls: 'wss://b' });
      const a = await streams.insert({ rtmsStreamId: streamId('a'), sessionId: s.id, serverUrls: 'wss://a' });
      await setCreatedAt('rtms_streams', b.id, '2020-01-02T00:00:00Z');
      await setCreatedAt('rtms_streams', a.id, '2020-01-01T00:00:00Z');
      expect((await streams.findBySession(s.id)).map((x) => x.rtmsStreamId)).toEqual([streamId('a'), streamId('b')]);
    });

    it('save writes changes back, in the caller\'s transaction when given', async () => {
      const s = await newSession();
      const st = await streams.insert({ rtmsStreamId: streamId('save'), sessionId: s.id, serverUrls: 'wss://a' });
      st.serverUrls = 'wss://b';
      st.failoverCount = 1;
      await ds.transaction((em) => streams.save(st, em));
      expect(await streams.findByStreamId(streamId('save'))).toMatchObject({ serverUrls: 'wss://b', failoverCount: 1 });
    });

    it('countOpenForSession counts streams that have not ended', async () => {
      const s = await newSession();
      await streams.insert({ rtmsStreamId: streamId('open1'), sessionId: s.id, serverUrls: 'x', status: StreamStatus.Active });
      await streams.insert({ rtmsStreamId: streamId('open2'), sessionId: s.id, serverUrls: 'x', status: StreamStatus.Pending });
      await streams.insert({ rtmsStreamId: streamId('stopped'), sessionId: s.id, serverUrls: 'x', status: StreamStatus.Stopped });
      await streams.insert({ rtmsStreamId: streamId('failed'), sessionId: s.id, serverUrls: 'x', status: StreamStatus.Failed });
      expect(await streams.countOpenForSession(s.id)).toBe(2);
    });

    it('setStatusUnlessEnded moves a live stream but leaves an ended one as it is', async () => {
      const s = await newSession();
      await streams.insert({ rtmsStreamId: streamId('live'), sessionId: s.id, serverUrls: 'x', status: StreamStatus.Active });
      await streams.insert({ rtmsStreamId: streamId('ended'), sessionId: s.id, serverUrls: 'x', status: StreamStatus.Stopped });
      await streams.setStatusUnlessEnded(streamId('live'), StreamStatus.Interrupted);
      await streams.setStatusUnlessEnded(streamId('ended'), StreamStatus.Interrupted);
      expect((await streams.findByStreamId(streamId('live')))?.status).toBe(StreamStatus.Interrupted);
      expect((await streams.findByStreamId(streamId('ended')))?.status).toBe(StreamStatus.Stopped);
    });

    it('updateRuntime sets the worker\'s fields', async () => {
      const s = await newSession();
      await streams.insert({ rtmsStreamId: streamId('rt'), sessionId: s.id, serverUrls: 'x' });
      const at = new Date('2024-05-01T10:00:00Z');
      await streams.updateRuntime(streamId('rt'), { status: StreamStatus.Active, ownerWorkerId: 'w1', connectedAt: at, lastKeepaliveAt: at });
      expect(await streams.findByStreamId(streamId('rt'))).toMatchObject({ status: StreamStatus.Active, ownerWorkerId: 'w1', connectedAt: at, lastKeepaliveAt: at });
    });

    it('updateRuntime from a worker that no longer owns the stream changes nothing; a claim always applies', async () => {
      const s = await newSession();
      await streams.insert({ rtmsStreamId: streamId('own'), sessionId: s.id, serverUrls: 'x' });
      const row = () => streams.findByStreamId(streamId('own'));
      await streams.updateRuntime(streamId('own'), { status: StreamStatus.Connecting, ownerWorkerId: 'old' }, 'old');
      // The new owner claims the stream; the old one's hand-over write lands after it.
      await streams.updateRuntime(streamId('own'), { status: StreamStatus.Connecting, ownerWorkerId: 'new' }, 'new');
      await streams.updateRuntime(streamId('own'), { status: StreamStatus.Interrupted, ownerWorkerId: null }, 'old');
      await streams.updateRuntime(streamId('own'), { lastKeepaliveAt: new Date('2024-05-01T10:00:00Z') }, 'old');
      expect(await row()).toMatchObject({ status: StreamStatus.Connecting, ownerWorkerId: 'new', lastKeepaliveAt: null });
      // The owner's own writes apply, its release too; then a write from anyone on an unowned row.
      await streams.updateRuntime(streamId('own'), { status: StreamStatus.Interrupted, ownerWorkerId: null }, 'new');
      expect(await row()).toMatchObject({ status: StreamStatus.Interrupted, ownerWorkerId: null });
      await streams.updateRuntime(streamId('own'), { status: StreamStatus.Active }, 'old');
      expect(await row()).toMatchObject({ status: StreamStatus.Active, ownerWorkerId: null });
    });

    it('incrementReconnectCount counts per cause, atomically under concurrency', async () => {
      const s = await newSession();
      await streams.insert({ rtmsStreamId: streamId('rc'), sessionId: s.id, serverUrls: 'x' });
      await Promise.all(Array.from({ length: 5 }, () => streams.incrementReconnectCount(streamId('rc'), 'keepalive_timeout')));
      await streams.incrementReconnectCount(streamId('rc'), 'server_close');
      expect((await streams.findByStreamId(streamId('rc')))?.reconnectCounts).toEqual({ keepalive_timeout: 5, server_close: 1 });
    });

    it('lockStream takes a transaction-scoped advisory lock on the stream', async () => {
      const tryLock = async () => (await ds.query(`SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok`, [`stream:${streamId('lock')}`]))[0].ok;
      await ds.transaction(async (em) => {
        await streams.lockStream(streamId('lock'), em);
        expect(await tryLock()).toBe(false);
      });
      expect(await tryLock()).toBe(true);
    });
  });

  describe('ParticipantsRepository', () => {
    it('upsertJoined inserts, and a rejoin clears left_at and keeps a known name when none is given', async () => {
      const s = await newSession();
      const t1 = new Date('2024-05-01T10:00:00Z');
      const t2 = new Date('2024-05-01T10:05:00Z');
      await participants.upsertJoined(s.id, 'u1', 'Ada', t1);
      await participants.upsertLeft(s.id, 'u1', t2);
      await participants.upsertJoined(s.id, 'u1', null, t2);
      expect(await participants.findBySession(s.id)).toEqual([expect.objectContaining({ zoomUserId: 'u1', userName: 'Ada', joinedAt: t1, leftAt: null })]);
      await participants.upsertJoined(s.id, 'u1', 'Ada L.', t2);
      expect((await participants.findBySession(s.id))[0].userName).toBe('Ada L.');
    });

    it('upsertLeft sets left_at only, and records a leave without a join', async () => {
      const s = await newSession();
      const t1 = new Date('2024-05-01T10:00:00Z');
      const t2 = new Date('2024-05-01T10:05:00Z');
      await participants.upsertJoined(s.id, 'u1', 'Ada', t1);
      await participants.upsertLeft(s.id, 'u1', t2);
      await participants.upsertLeft(s.id, 'u2', t2);
      const rows = await participants.findBySession(s.id);
      expect(rows).toEqual([
        expect.objectContaining({ zoomUserId: 'u1', userName: 'Ada', joinedAt: t1, leftAt: t2 }),
        expect.objectContaining({ zoomUserId: 'u2', userName: null, joinedAt: null, leftAt: t2 }),
      ]);
    });

    it('findBySession lists only that session\'s participants, by join time then user id', async () => {
      const s = await newSession();
      const other = await newSession();
      await participants.upsertJoined(s.id, 'b', null, new Date('2024-05-01T10:00:00Z'));
      await participants.upsertJoined(s.id, 'a', null, new Date('2024-05-01T10:00:00Z'));
      await participants.upsertJoined(s.id, 'c', null, new Date('2024-05-01T09:00:00Z'));
      await participants.upsertJoined(other.id, 'z', null, new Date('2024-05-01T08:00:00Z'));
      expect((await participants.findBySession(s.id)).map((p) => p.zoomUserId)).toEqual(['c', 'a', 'b']);
    });
  });
});
