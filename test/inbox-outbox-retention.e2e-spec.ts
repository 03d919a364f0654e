import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { jobIdFor } from '../src/jobs/job-ids';
import { JobName } from '../src/jobs/job-names';
import { JobProducer } from '../src/jobs/job-producer.service';
import { QueueName } from '../src/jobs/queue-names';
import { AppEventRetentionService, AppEventsService, AppEventType } from '../src/modules/app-events';
import { AgePruneService } from '../src/modules/retention/sweep/age-prune.service';
import { RetentionSweepService, SweepSummary } from '../src/modules/retention/sweep/retention-sweep.service';
import { webhookSignature as simSignature } from '../src/simulator';
import { createSession, insertSession } from './factories/session.factory';
import { insertWebhookEndpoint, TestEndpoint } from './factories/webhook-endpoint.factory';
import { query } from './utils/db';
import { TEST_ZOOM_APP, useE2eContext, WEBHOOK_PATH } from './utils/e2e-context';
import { API_KEY } from './utils/test-app';
import { waitFor } from './utils/wait-for';

/**
 * What is not a session's own row, or was not until now (docs/retention.md "Unlinked
 * events, app events and webhook messages"): Zoom's participant_joined is linked to its
 * session, so the session's deletion and erasures reach it; events no session claimed,
 * app events and webhook messages go by age in the sweep (never a message still being
 * delivered); a session's app events and their messages go with its transcript, its
 * events or its deletion (media.deleted stays to announce it); an erasure takes the
 * person's app events, messages and Zoom events, linked or not. Finished Zoom Room
 * dispatches go by age too (never one in progress or with a room job to run). Rows are
 * aged by moving their created_at (a dispatch: updated_at) back: the configured ages are days.
 */
interface ErasureBody {
  id: string;
  status: string;
  subject_unresolved: boolean;
  counts: Record<string, number>;
  sessions_affected: number;
}

describe('retention of unlinked events, app events and webhook messages', () => {
  const ctx = useE2eContext({
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.Maintenance], explicit: true } },
    env: () => ({
      RETENTION_UNLINKED_EVENTS_DAYS: '1',
      RETENTION_APP_EVENTS_DAYS: '2',
      RETENTION_WEBHOOK_MESSAGES_DAYS: '3',
      RETENTION_ROOM_DISPATCHES_DAYS: '1',
      // Small batches: every prune takes several.
      RETENTION_SWEEP_BATCH_SIZE: '2',
      RETENTION_SWEEP_INTERVAL_SEC: '3600',
    }),
  });

  const api = () => ctx.http();
  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => query<T>(ctx.hub.app, text, params);
  const count = async (from: string, params: unknown[] = []) => Number((await sql<{ n: string }>(`SELECT count(*)::text AS n FROM ${from}`, params))[0].n);
  let endpoint: TestEndpoint;
  let otherEndpoint: TestEndpoint;

  beforeAll(async () => {
    // Never called: the app-webhooks queue has no worker here, messages are written by the tests.
    endpoint = await insertWebhookEndpoint(ctx.hub.app, 'http://127.0.0.1:9/never', ['*']);
    otherEndpoint = await insertWebhookEndpoint(ctx.hub.app, 'http://127.0.0.1:9/other', ['*']);
  });

  /** Posts a signed Zoom webhook (accepted: 200). */
  async function postZoomEvent(event: string, payload: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify({ event, event_ts: Date.now(), payload });
    const ts = String(Math.floor(Date.now() / 1000));
    await api()
      .post(WEBHOOK_PATH)
      .set({ 'x-zm-request-timestamp': ts, 'x-zm-signature': simSignature(TEST_ZOOM_APP.webhookSecretToken, ts, body), 'content-type': 'application/json' })
      .send(body)
      .expect(200);
  }

  /** Posts a signed Zoom webhook and waits for the zoom-events job to finish with it; returns its row. */
  async function zoomEvent(event: string, payload: Record<string, unknown>): Promise<{ id: string; session_id: string | null; status: string }> {
    await postZoomEvent(event, payload);
    const marker = JSON.stringify(payload);
    return waitFor(
      async () => {
        const [row] = await sql<{ id: string; session_id: string | null; status: string }>(`SELECT id, session_id, status FROM session_events WHERE event_type = $1 AND payload->'payload' = $2::jsonb`, [event, marker]);
        return row && row.status !== 'received' ? row : undefined;
      },
      { what: `${event} to be processed` },
    );
  }

  const joined = (uuid: string, userId: number, name: string, email?: string) => ({
    account_id: 'acc',
    object: { id: '85560000001', uuid, participant: { user_id: String(userId), user_name: name, ...(email ? { email } : {}), join_time: new Date().toISOString() } },
  });

  /** Records an app event as the producers do. */
  async function appEvent(type: AppEventType, sessionId: string | null, data: Record<string, unknown>): Promise<string> {
    return (await ctx.hub.app.get(AppEventsService).record({ type, sessionId, data })).id;
  }

  /** A webhook message of an event for the test endpoint, with one attempt. */
  async function message(eventId: string, status: 'pending' | 'succeeded' | 'failed', ageDays = 0, to: TestEndpoint = endpoint): Promise<string> {
    const id = randomUUID();
    await sql(
      `INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at, created_at)
       VALUES ($1, $2, $3, 'x', '{}', $4::varchar, 1, CASE WHEN $4::varchar = 'pending' THEN now() + interval '1 hour' END, now() - make_interval(secs => $5::float8))`,
      [id, to.id, eventId, status, ageDays * 86400],
    );
    await sql(`INSERT INTO webhook_attempts (id, message_id, attempt_no, trigger, started_at, latency_ms) VALUES ($1, $2, 1, 'scheduled', now(), 5)`, [randomUUID(), id]);
    return id;
  }

  /** Moves a session's retention clock back: its categories expire as if `ageDays` had passed. */
  const ageRetentionClock = (sessionId: string, ageDays: number) => sql(`UPDATE sessions SET retention_from = now() - make_interval(secs => $2::float8) WHERE id = $1`, [sessionId, ageDays * 86400]);
  const age = (table: string, ids: string[], ageDays: number) => sql(`UPDATE ${table} SET created_at = now() - make_interval(secs => $2::float8) WHERE id = ANY($1::uuid[])`, [ids, ageDays * 86400]);
  const fannedOut = (ids: string[]) => sql(`UPDATE app_events SET fanned_out_at = now() WHERE id = ANY($1::uuid[])`, [ids]);
  const present = async (table: string, ids: string[]) => (await sql<{ id: string }>(`SELECT id FROM ${table} WHERE id = ANY($1::uuid[])`, [ids])).map((r) => r.id).sort();

  /** Runs one sweep (the scheduled one may hold the lease for a moment). */
  async function sweep(): Promise<SweepSummary> {
    const sweeper = ctx.hub.app.get(RetentionSweepService);
    return waitFor(
      async () => {
        const r = await sweeper.sweep();
        return r.skipped === undefined ? r : undefined;
      },
      { timeoutMs: 20000, what: 'a sweep of its own' },
    );
  }

  async function erase(body: Record<string, unknown>): Promise<ErasureBody> {
    const res = await api().post('/api/v1/erasures').set('x-api-key', API_KEY).send(body).expect(202);
    return waitFor(
      async () => {
        const r = await api().get(`/api/v1/erasures/${res.body.id}`).set('x-api-key', API_KEY).expect(200);
        return ['completed', 'failed'].includes(r.body.status) ? (r.body as ErasureBody) : undefined;
      },
      { timeoutMs: 30000, what: 'the erasure to finish' },
    );
  }

  it('links a processed participant_joined to its session (with or without an email), so deleting the session deletes it', async () => {
    const uuid = `link-${randomUUID()}==`;
    const sessionId = await insertSession(ctx.hub, { meetingUuid: uuid, status: 'streaming' });
    const withEmail = await zoomEvent('meeting.participant_joined', joined(uuid, 9301, 'Lia', 'lia@example.com'));
    const withoutEmail = await zoomEvent('meeting.participant_joined', joined(uuid, 9302, 'Max'));
    expect(withEmail).toMatchObject({ session_id: sessionId, status: 'processed' });
    expect(withoutEmail).toMatchObject({ session_id: sessionId, status: 'ignored' });
    // A meeting without a session: nothing to link to (it goes by age).
    expect(await zoomEvent('meeting.participant_joined', joined(`none-${randomUUID()}==`, 9303, 'Ned', 'ned@example.com'))).toMatchObject({ session_id: null, status: 'ignored' });

    await api().delete(`/api/v1/sessions/${sessionId}`).set('x-api-key', API_KEY).expect(204);
    expect(await present('session_events', [withEmail.id, withoutEmail.id])).toEqual([]);
  });

  it('zero retention: a participant_joined keeps nothing of the participant (no row, the stored webhook stripped)', async () => {
    const uuid = `zero-${randomUUID()}==`;
    const sessionId = await insertSession(ctx.hub, { meetingUuid: uuid, status: 'streaming', capturePolicy: { retention: { zero: true } } });
    // Its stored payload changes (stripped): found by session, not by payload as zoomEvent finds it.
    await postZoomEvent('meeting.participant_joined', joined(uuid, 9311, 'Secret Person', 'secret.person@example.com'));
    const row = await waitFor(
      async () => (await sql<{ status: string; session_id: string; error: string; payload: unknown }>(`SELECT status, session_id, error, payload FROM session_events WHERE event_type = 'meeting.participant_joined' AND session_id = $1`, [sessionId]))[0],
      { what: 'the participant_joined processed' },
    );
    expect(row).toMatchObject({ status: 'ignored', session_id: sessionId, error: expect.stringContaining('zero retention') });
    expect(JSON.stringify(row.payload)).not.toMatch(/Secret Person|secret\.person|9311/);
    expect(row.payload).toMatchObject({ event: 'meeting.participant_joined', payload: { object: { uuid }, redacted: 'zero_retention' } });
    expect((await api().get(`/api/v1/sessions/${sessionId}/participants`).set('x-api-key', API_KEY).expect(200)).body.data).toEqual([]);
  });

  it('deleting a session deletes its app events and their webhook messages and attempts, and announces media.deleted', async () => {
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: '85560000002' });
    const { id: other } = await createSession(ctx.hub, { meetingId: '85560000003' });
    const events = [
      (await sql<{ id: string }>(`SELECT id FROM app_events WHERE session_id = $1 AND type = 'session.created'`, [sessionId]))[0].id,
      await appEvent(AppEventType.ParticipantJoined, sessionId, { participant: { user_id: '9311', user_name: 'Ola' } }),
      await appEvent(AppEventType.TranscriptSegment, sessionId, { user_id: '9311', user_name: 'Ola', text: 'my secret' }),
    ];
    const messages = [await message(events[0], 'succeeded'), await message(events[1], 'failed'), await message(events[2], 'pending')];
    const otherEvent = await appEvent(AppEventType.TranscriptSegment, other, { user_id: '9312', text: 'kept' });
    const otherMessage = await message(otherEvent, 'succeeded');

    await api().delete(`/api/v1/sessions/${sessionId}`).set('x-api-key', API_KEY).expect(204);
    expect(await present('app_events', events)).toEqual([]);
    expect(await present('webhook_messages', messages)).toEqual([]);
    expect(await count(`webhook_attempts WHERE message_id = ANY($1::uuid[])`, [messages])).toBe(0);
    // What the deletion announces goes out; other sessions are untouched.
    expect(await sql(`SELECT type FROM app_events WHERE session_id = $1`, [sessionId])).toEqual([{ type: 'media.deleted' }]);
    expect(await present('app_events', [otherEvent])).toEqual([otherEvent]);
    expect(await present('webhook_messages', [otherMessage])).toEqual([otherMessage]);
    const [entry] = await sql<{ rows_deleted: Record<string, number> }>(`SELECT rows_deleted FROM deletion_log WHERE session_id = $1`, [sessionId]);
    expect(entry.rows_deleted).toMatchObject({ sessions: 1, app_events: 3, webhook_messages: 3 });
  });

  it('the sweep deletes transcript.segment app events with the transcript, the rest with the events, with their messages; media.deleted stays', async () => {
    // Transcript kept 1 day, events 10: nothing expires until the rows are in place and the
    // retention clock is moved back 2 days (a sweep running meanwhile has nothing to do).
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: '85560000004', capturePolicy: { retention: { media_days: 1, transcript_days: 1, events_days: 10 } } });
    const lines = [];
    for (let i = 0; i < 5; i++) lines.push(await appEvent(AppEventType.TranscriptSegment, sessionId, { user_id: '9321', user_name: 'Pia', text: `line ${i}` }));
    const join = await appEvent(AppEventType.ParticipantJoined, sessionId, { participant: { user_id: '9321', user_name: 'Pia' } });
    const lineMessages = [await message(lines[0], 'succeeded'), await message(lines[1], 'pending')];
    const joinMessage = await message(join, 'succeeded');
    await ageRetentionClock(sessionId, 2);

    await waitFor(
      async () => {
        await sweep();
        return (await count(`deletion_log WHERE session_id = $1 AND 'transcript' = ANY(categories)`, [sessionId])) === 1;
      },
      { timeoutMs: 20000, what: 'the transcript purge' },
    );
    expect(await present('app_events', lines)).toEqual([]);
    expect(await present('webhook_messages', lineMessages)).toEqual([]);
    expect(await present('app_events', [join])).toEqual([join]);
    expect(await present('webhook_messages', [joinMessage])).toEqual([joinMessage]);
    const [entry] = await sql<{ rows_deleted: Record<string, number> }>(`SELECT rows_deleted FROM deletion_log WHERE session_id = $1 AND 'transcript' = ANY(categories)`, [sessionId]);
    expect(entry.rows_deleted).toEqual({ app_events: 5, webhook_messages: 2 });

    // Every category expired: the session goes, and its app events but media.deleted with it.
    const { id: gone } = await createSession(ctx.hub, { meetingId: '85560000005', capturePolicy: { retention: { media_days: 1, transcript_days: 1, events_days: 1 } } });
    const goneEvents = [
      await appEvent(AppEventType.TranscriptSegment, gone, { user_id: '9322', text: 'a' }),
      await appEvent(AppEventType.ParticipantLeft, gone, { participant: { user_id: '9322', user_name: 'Quinn' } }),
    ];
    const goneMessages = [await message(goneEvents[0], 'succeeded'), await message(goneEvents[1], 'failed')];
    // participant.left, session.created and whatever else the session announced, but media.deleted.
    const withEvents = await count(`app_events WHERE session_id = $1 AND type NOT IN ('transcript.segment', 'media.deleted')`, [gone]);
    expect(withEvents).toBeGreaterThanOrEqual(2);
    await ageRetentionClock(gone, 2);
    await waitFor(
      async () => {
        await sweep();
        return (await api().get(`/api/v1/sessions/${gone}`).set('x-api-key', API_KEY)).status === 404;
      },
      { timeoutMs: 20000, what: 'the session to be purged' },
    );
    expect(await present('webhook_messages', goneMessages)).toEqual([]);
    expect((await sql<{ type: string }>(`SELECT DISTINCT type FROM app_events WHERE session_id = $1`, [gone])).map((r) => r.type)).toEqual(['media.deleted']);
    const entries = await sql<{ categories: string[]; rows_deleted: Record<string, number> }>(`SELECT categories, rows_deleted FROM deletion_log WHERE session_id = $1 ORDER BY created_at, id`, [gone]);
    expect(entries.map((e) => e.categories)).toEqual([['transcript'], ['events', 'session']]);
    expect(entries[0].rows_deleted).toEqual({ app_events: 1, webhook_messages: 1 });
    expect(entries[1].rows_deleted).toMatchObject({ app_events: withEvents, webhook_messages: 1, sessions: 1 });
  });

  it('prunes unlinked events, finished webhook messages and app events by age, in batches, never a message still being delivered', async () => {
    const uuid = `age-${randomUUID()}==`;
    const sessionId = await insertSession(ctx.hub, { meetingUuid: uuid, status: 'streaming' });
    // Unlinked events: several processed ones past 1 day (more than a batch), one still waiting, one recent; and a linked one.
    const oldUnlinked = [];
    for (let i = 0; i < 5; i++) oldUnlinked.push((await zoomEvent('meeting.some_unknown_event', { object: { uuid: `${uuid}-${i}`, n: i } })).id);
    const recentUnlinked = (await zoomEvent('meeting.some_unknown_event', { object: { uuid: `${uuid}-recent` } })).id;
    const linked = (await zoomEvent('meeting.participant_joined', joined(uuid, 9331, 'Rae', 'rae@example.com'))).id;
    // Not processed yet: kept whatever its age (source api, so the pending-events sweeper leaves it as it is).
    const [{ id: waiting }] = await sql<{ id: string }>(
      `INSERT INTO session_events (source, event_type, dedupe_key, payload, status) VALUES ('api', 'test.waiting', $1, '{}', 'received') RETURNING id`,
      [`test:${randomUUID()}`],
    );
    await age('session_events', [...oldUnlinked, linked, waiting], 1.5);
    await age('session_events', [recentUnlinked], 0.5);

    // App events (2 days) and finished messages (3 days); a message's attempts go with it.
    const oldEvent = await appEvent(AppEventType.ParticipantJoined, sessionId, { participant: { user_id: '9331' } });
    const busyEvent = await appEvent(AppEventType.ParticipantJoined, sessionId, { participant: { user_id: '9332' } });
    const newEvent = await appEvent(AppEventType.ParticipantJoined, sessionId, { participant: { user_id: '9333' } });
    const oldEvents = [];
    for (let i = 0; i < 3; i++) oldEvents.push(await appEvent(AppEventType.ParticipantLeft, sessionId, { participant: { user_id: `934${i}` } }));
    await age('app_events', [oldEvent, busyEvent, ...oldEvents], 2.5);
    await age('app_events', [newEvent], 1);
    // The fan-out made their messages (no app-webhooks worker here: marked as it would be).
    await fannedOut([oldEvent, busyEvent, newEvent, ...oldEvents]);
    // Old, but never fanned out (no app-webhooks worker for days): it waits for its fan-out.
    const unannounced = await appEvent(AppEventType.ParticipantLeft, sessionId, { participant: { user_id: '9339' } });
    await age('app_events', [unannounced], 2.5);
    const oldDelivered = await message(oldEvent, 'succeeded', 1); // young, but its event is old: goes with it
    const stillRetrying = await message(busyEvent, 'pending', 4); // old, but being delivered: it and its event stay
    const oldFailed = await message(newEvent, 'failed', 4); // goes by its own age; its event stays
    const recentFailed = await message(newEvent, 'failed', 2, otherEndpoint); // the same event to another endpoint: young, stays
    const ping = await message(randomUUID(), 'succeeded', 4); // a test ping: no app event of its own

    // Sequence counters: a deleted session with no event left goes; a live session's stays.
    const orphan = randomUUID();
    await sql(`INSERT INTO app_event_sequences (session_id, last_sequence) VALUES ($1, 7)`, [orphan]);

    const run = await sweep();
    expect(run.aged).toMatchObject({ session_events: 5, app_events: 4, webhook_messages: 3, app_event_sequences: 1 });
    expect(await present('session_events', oldUnlinked)).toEqual([]);
    expect(await present('session_events', [recentUnlinked, linked, waiting])).toEqual([recentUnlinked, linked, waiting].sort());
    expect(await present('app_events', [oldEvent, ...oldEvents])).toEqual([]);
    expect(await present('app_events', [busyEvent, newEvent, unannounced])).toEqual([busyEvent, newEvent, unannounced].sort());
    expect(await present('webhook_messages', [oldDelivered, oldFailed, ping])).toEqual([]);
    expect(await present('webhook_messages', [stillRetrying, recentFailed])).toEqual([stillRetrying, recentFailed].sort());
    expect(await count(`webhook_attempts WHERE message_id = ANY($1::uuid[])`, [[oldDelivered, oldFailed, ping]])).toBe(0);
    expect(await count(`app_event_sequences WHERE session_id = $1`, [orphan])).toBe(0);
    expect(await count(`app_event_sequences WHERE session_id = $1`, [sessionId])).toBe(1);

    // A second sweep finds nothing more (the pending message's event waits for its delivery).
    expect((await sweep()).aged).toEqual({});
    await fannedOut([unannounced]);
    expect((await sweep()).aged).toEqual({ app_events: 1 });
  });

  it('a resend that makes an old message pending while the age prune runs keeps the message and its app event', async () => {
    const event = await appEvent(AppEventType.ParticipantLeft, null, { participant: { user_id: '9361' } });
    await age('app_events', [event], 400);
    await fannedOut([event]);
    const sent = await message(event, 'failed');
    // The resend's UPDATE (WebhookMessagesRepository.makeDueNow), committed only once the prune has read the message.
    const resend = new Client({ connectionString: process.env.DATABASE_URL });
    await resend.connect();
    try {
      await resend.query('BEGIN');
      await resend.query(`UPDATE webhook_messages SET status = 'pending', next_attempt_at = now() WHERE id = $1`, [sent]);
      const prune = ctx.hub.app.get(AgePruneService).prune();
      await waitFor(async () => (await sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0].n > 0, {
        what: 'the prune to wait for the resend',
      });
      await resend.query('COMMIT');
      await prune;
    } finally {
      await resend.end();
    }
    expect(await present('webhook_messages', [sent])).toEqual([sent]);
    expect(await present('app_events', [event])).toEqual([event]);
    expect((await sql<{ status: string }>(`SELECT status FROM webhook_messages WHERE id = $1`, [sent]))[0].status).toBe('pending');

    // Delivered, both go with the next prune.
    await sql(`UPDATE webhook_messages SET status = 'succeeded', next_attempt_at = NULL WHERE id = $1`, [sent]);
    await ctx.hub.app.get(AgePruneService).prune();
    expect(await present('app_events', [event])).toEqual([]);
    expect(await present('webhook_messages', [sent])).toEqual([]);
  });

  it('pages app events by (created_at, id) to the microsecond: each old event is read once, even one page at a time', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await appEvent(AppEventType.ParticipantLeft, null, { participant: { user_id: `95${i}` } }));
    // 400 days old (no other test's events are), and not on a millisecond boundary.
    await sql(`UPDATE app_events SET created_at = date_trunc('milliseconds', now()) - interval '400 days' + make_interval(secs => 0.000123) WHERE id = ANY($1::uuid[])`, [ids]);
    const retention = ctx.hub.app.get(AppEventRetentionService);
    const seen: string[] = [];
    let after: { createdAt: string; id: string } | null = null;
    for (let i = 0; i < 10; i++) {
      const page = await retention.findOlderThan(300, after, 1);
      if (page.length === 0) break;
      seen.push(page[0].id);
      after = page[0];
    }
    expect(seen).toEqual([...ids].sort());
    await sql(`DELETE FROM app_events WHERE id = ANY($1::uuid[])`, [ids]);
  });

  it('prunes finished Zoom Room dispatches by their last update, in batches; never one in progress, with a room job to run, or the automatic one of a live session', async () => {
    const sessionId = await insertSession(ctx.hub, { meetingUuid: `rooms-${randomUUID()}==`, status: 'stopped' });
    const autoSession = await insertSession(ctx.hub, { meetingUuid: `rooms-auto-${randomUUID()}==`, status: 'stopped' });
    /** A dispatch as the runner leaves it, last updated `ageDays` ago. */
    const roomDispatch = async (status: string, ageDays: number, o: { sessionId?: string; source?: 'api' | 'auto'; joined?: boolean; left?: boolean } = {}) => {
      const id = randomUUID();
      await sql(
        `INSERT INTO room_dispatches (id, room_id, meeting_number, passcode_enc, session_id, source, status, leave_after_seconds, joined_at, left_at, updated_at)
         VALUES ($1, $2, '85560000042', 'sealed', $3, $4, $5, 30, CASE WHEN $6::boolean THEN now() - interval '3 days' END, CASE WHEN $7::boolean THEN now() - interval '3 days' END,
                 now() - make_interval(secs => $8::float8))`,
        [id, `room-${id.slice(0, 8)}`, o.sessionId ?? null, o.source ?? 'api', status, o.joined ?? false, o.left ?? false, ageDays * 86400],
      );
      return id;
    };
    // Finished more than a day ago: they go (one of a session that is still there: an API dispatch is no mark of anything).
    const oldFinished = [
      await roomDispatch('left', 1.5, { joined: true, left: true }),
      await roomDispatch('failed', 2, { sessionId }),
      await roomDispatch('cancelled', 3),
    ];
    // Finished, but recently: kept.
    const recent = await roomDispatch('left', 0.5, { joined: true, left: true });
    // In progress, however long ago they last moved: kept.
    const inProgress = [await roomDispatch('queued', 2), await roomDispatch('joining', 2), await roomDispatch('joined', 2, { joined: true }), await roomDispatch('leaving', 2, { joined: true })];
    // Cancelled in the meeting, its leave still to run (a delayed job of its round): kept while the job waits.
    const leaving = await roomDispatch('cancelled', 2, { joined: true });
    const producer = ctx.hub.app.get(JobProducer);
    await producer.enqueue(JobName.RoomLeave, { dispatchId: leaving, round: 1 }, { delay: 3_600_000 });
    // rooms.auto-dispatch sends a room once per session by its automatic dispatches: kept while the session is there.
    const auto = await roomDispatch('left', 2, { sessionId: autoSession, source: 'auto', joined: true, left: true });

    const run = await sweep();
    expect(run.aged).toMatchObject({ room_dispatches: 3 });
    expect(await present('room_dispatches', oldFinished)).toEqual([]);
    const kept = [recent, ...inProgress, leaving, auto];
    expect(await present('room_dispatches', kept)).toEqual([...kept].sort());

    // Its leave done (the job gone), the cancelled dispatch goes; the session gone (SET NULL), so does the automatic one.
    await producer.queueFor(JobName.RoomLeave).remove(jobIdFor(JobName.RoomLeave, { dispatchId: leaving, round: 1 }) as string);
    await sql(`DELETE FROM sessions WHERE id = $1`, [autoSession]);
    expect((await sweep()).aged).toEqual({ room_dispatches: 2 });
    expect(await present('room_dispatches', [leaving, auto])).toEqual([]);
    expect(await present('room_dispatches', [recent, ...inProgress])).toEqual([recent, ...inProgress].sort());
    expect((await sweep()).aged).toEqual({});
  });

  it('serves the pending-events sweeper, the unlinked-events and the room-dispatch prunes from partial indexes', async () => {
    const plan = async (text: string, params: unknown[]) =>
      ctx.hub.app.get(DataSource).transaction(async (em) => {
        await em.query(`SET LOCAL enable_seqscan = off`);
        const rows: Array<{ 'QUERY PLAN': string }> = await em.query(`EXPLAIN ${text}`, params);
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    // The sweeper's query (SessionEventsRepository.findReceivedZoomEventIds), every minute.
    expect(
      await plan(
        `SELECT id FROM session_events WHERE status = 'received' AND source IN ('webhook', 'event_ws') AND created_at < now() - ($1::int * interval '1 millisecond') ORDER BY created_at LIMIT $2`,
        [60000, 500],
      ),
    ).toContain('IDX_session_events_received_created_at');
    expect(
      await plan(`SELECT id FROM session_events WHERE session_id IS NULL AND created_at < now() - make_interval(secs => $1::float8) AND status <> 'received' ORDER BY created_at LIMIT $2::int`, [86400, 200]),
    ).toContain('IDX_session_events_unlinked_created_at');
    expect(await plan(`SELECT id FROM webhook_messages WHERE event_id = ANY($1::uuid[])`, [[randomUUID()]])).toContain('IDX_webhook_messages_event_id');
    // The room-dispatch prune's page (RoomDispatchesRepository.findFinishedOlderThan), first and next.
    const dispatchPage = `SELECT id, round, updated_at::text AS updated_text FROM room_dispatches
        WHERE status IN ('left', 'failed', 'cancelled') AND (source <> 'auto' OR session_id IS NULL) AND updated_at < now() - make_interval(secs => $1::float8)
          AND ($2::timestamptz IS NULL OR (updated_at, id) > ($2::timestamptz, $3::uuid))
        ORDER BY updated_at, id LIMIT $4::int`;
    expect(await plan(dispatchPage, [86400, null, null, 200])).toContain('IDX_room_dispatches_prunable');
    expect(await plan(dispatchPage, [86400, '2026-01-01 00:00:00.123456+00', randomUUID(), 200])).toContain('IDX_room_dispatches_prunable');
  });

  it("an erasure deletes the person's app events and webhook messages, their linked and unlinked Zoom events, and counts them; asked again it finds nothing", async () => {
    const uuid = `erase-${randomUUID()}==`;
    const sessionId = await insertSession(ctx.hub, { meetingUuid: uuid, status: 'streaming' });
    // Zoom gives Sam's email in their session, and in a meeting the hub has no session for.
    const linked = await zoomEvent('meeting.participant_joined', joined(uuid, 9351, 'Sam Erased', 'Sam@Example.com'));
    expect(linked.session_id).toBe(sessionId);
    const elsewhere = await zoomEvent('meeting.participant_joined', joined(`other-${randomUUID()}==`, 9399, 'Sam Erased', 'sam@example.com'));
    const byName = await zoomEvent('meeting.some_unknown_event', { object: { uuid: `x-${randomUUID()}`, host: { name: 'Sam Erased' } } });
    const someoneElse = await zoomEvent('meeting.participant_joined', joined(`other-${randomUUID()}==`, 9398, 'Tia', 'tia@example.com'));
    const othersLinked = await zoomEvent('meeting.participant_joined', joined(uuid, 9352, 'Uma', 'uma@example.com'));
    // What apps were sent about Sam, and about Uma.
    const samEvents = [
      await appEvent(AppEventType.ParticipantJoined, sessionId, { participant: { user_id: '9351', user_name: 'Sam Erased' } }),
      await appEvent(AppEventType.TranscriptSegment, sessionId, { user_id: '9351', user_name: 'Sam Erased', text: 'my words' }),
    ];
    const samMessages = [await message(samEvents[0], 'succeeded'), await message(samEvents[1], 'pending')];
    const umaEvent = await appEvent(AppEventType.TranscriptSegment, sessionId, { user_id: '9352', user_name: 'Uma', text: 'hers' });
    const umaMessage = await message(umaEvent, 'succeeded');

    const done = await erase({ user_email: 'SAM@example.com' });
    expect(done).toMatchObject({ status: 'completed', subject_unresolved: false, sessions_affected: 1 });
    expect(done.counts).toMatchObject({ participants: 1, zoom_events: 1, unlinked_events: 1, app_events: 2, webhook_messages: 2 });
    expect(await present('session_events', [linked.id, elsewhere.id])).toEqual([]);
    expect(await present('app_events', samEvents)).toEqual([]);
    expect(await present('webhook_messages', samMessages)).toEqual([]);
    // Everyone else's stays.
    expect(await present('session_events', [byName.id, someoneElse.id, othersLinked.id])).toEqual([byName.id, someoneElse.id, othersLinked.id].sort());
    expect(await present('app_events', [umaEvent])).toEqual([umaEvent]);
    expect(await present('webhook_messages', [umaMessage])).toEqual([umaMessage]);
    const log = await sql<{ session_id: string | null; rows_deleted: Record<string, number> }>(`SELECT session_id, rows_deleted FROM deletion_log WHERE erasure_id = $1 ORDER BY session_id NULLS LAST`, [done.id]);
    expect(log).toEqual([
      { session_id: sessionId, rows_deleted: expect.objectContaining({ participants: 1, session_events: 1, app_events: 2, webhook_messages: 2 }) },
      { session_id: null, rows_deleted: { session_events: 1 } },
    ]);

    // By name: the event naming Sam that no session claimed (no participant row is left to match).
    const byNameDone = await erase({ user_name: 'Sam Erased' });
    expect(byNameDone).toMatchObject({ status: 'completed', subject_unresolved: false, sessions_affected: 0, counts: { unlinked_events: 1 } });
    expect(await present('session_events', [byName.id])).toEqual([]);

    // Idempotent: nothing of Sam is left.
    expect(await erase({ user_email: 'sam@example.com' })).toMatchObject({ status: 'completed', subject_unresolved: true, counts: {} });
    expect(await present('session_events', [someoneElse.id, othersLinked.id])).toEqual([someoneElse.id, othersLinked.id].sort());
  });
});
