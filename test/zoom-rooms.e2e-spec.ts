import Redis from 'ioredis';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { jobIdFor } from '../src/jobs/job-ids';
import { JobProducer } from '../src/jobs/job-producer.service';
import { ZoomRoomsClient } from '../src/modules/zoom-rooms/zoom-rooms.client';
import { RoomsRateLimiter } from '../src/modules/zoom-rooms/rooms-rate-limiter';
import { RestCall, ZoomSimulator } from '../src/simulator';
import { REDIS_CLIENT } from '../src/common/redis/redis.module';
import { ZoomTransportError } from '../src/zoom/zoom-errors';
import { createSession } from './factories/session.factory';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY, TestApp } from './utils/test-app';
import { waitFor, waitForJobState } from './utils/wait-for';

const PASSCODE = 'pa55-Secret!';

interface DispatchBody {
  id: string;
  room_id: string;
  status: string;
  existing?: boolean;
  attempts: number;
  throttled_count: number;
  failed_step: string | null;
  zoom_status: number | null;
  zoom_code: string | null;
  zoom_message: string | null;
  error: string | null;
  round: number;
  joined_at: string | null;
  left_at: string | null;
  end_reason: string | null;
  has_passcode: boolean;
}

function hubEnv(s2s: { clientId: string; clientSecret: string; accountId: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ZOOM_S2S_CLIENT_ID: s2s.clientId,
    ZOOM_S2S_CLIENT_SECRET: s2s.clientSecret,
    ZOOM_ACCOUNT_ID: s2s.accountId,
    ZOOM_HTTP_TIMEOUT_MS: '2000',
    ZOOM_ROOMS_ATTEMPTS: '4',
    ZOOM_ROOMS_BACKOFF_MS: '100',
    ...extra,
  };
}

const roomEvents = (sim: ZoomSimulator, roomId: string, method?: string): RestCall[] =>
  sim.restLog.filter((c) => c.method === 'PATCH' && c.path === `/v2/rooms/${roomId}/events` && (!method || c.body.includes(`"${method}"`)));

/** The app's `nth` enqueue of `name` fails as it would during a Redis blip; every other enqueue goes through. */
function failEnqueue(app: TestApp, name: JobName, nth = 1): void {
  const producer = app.app.get(JobProducer, { strict: false });
  const enqueue = producer.enqueue.bind(producer);
  let seen = 0;
  jest.spyOn(producer, 'enqueue').mockImplementation(((n, data, opts) => {
    if (n === name && ++seen === nth) return Promise.reject(new Error(`Connection is closed (injected for ${name})`));
    return enqueue(n, data, opts);
  }) as JobProducer['enqueue']);
}

/** Holds the worker's join call for `roomId` before it reaches Zoom until the returned release is called. */
function holdJoin(app: TestApp, roomId: string): { reached: () => boolean; release: () => void } {
  const client = app.app.get(ZoomRoomsClient, { strict: false });
  const send = client.sendEvent.bind(client);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let reached = false;
  jest.spyOn(client, 'sendEvent').mockImplementation(async (id, method, params, token) => {
    if (id === roomId && method === 'zoomroom.meeting_join') {
      reached = true;
      await gate;
    }
    return send(id, method, params, token);
  });
  return { reached: () => reached, release };
}

/**
 * The worker's first join call for `roomId` gets Zoom's answer, then its job dies before
 * recording it — as a worker killed right after Zoom's 202 — once `die` is called. BullMQ
 * runs the job again (here as a retry after the throw; after a real crash, as a stalled
 * job): that re-run is what is tested.
 */
function dieAfterJoin(app: TestApp, roomId: string): { answered: () => boolean; die: () => void } {
  const client = app.app.get(ZoomRoomsClient, { strict: false });
  const send = client.sendEvent.bind(client);
  let die!: () => void;
  const gate = new Promise<void>((resolve) => (die = resolve));
  let answered = false;
  jest.spyOn(client, 'sendEvent').mockImplementation(async (id, method, params, token) => {
    const res = await send(id, method, params, token);
    if (id === roomId && method === 'zoomroom.meeting_join' && !answered) {
      answered = true;
      await gate;
      throw new Error('worker died after Zoom answered the join (injected)');
    }
    return res;
  });
  return { answered: () => answered, die };
}

describe('Zoom Rooms: dispatch rooms into meetings and out again as durable jobs', () => {
  const S2S = { clientId: 'rooms_e2e_s2s', clientSecret: 'rooms_e2e_s2s_secret', accountId: 'rooms_e2e_account' };
  // API and worker in separate processes (apps), as deployed: the worker can be killed alone.
  const ctx = useE2eContext({
    simulator: { s2s: S2S },
    hub: { api: true },
    env: () => hubEnv(S2S, { ZOOM_ROOMS_RATE_LIMIT_PER_SEC: '50', ZOOM_ROOMS_PAGE_SIZE: '2', ZOOM_ROOMS_LIST_CACHE_SEC: '30' }),
    webhooks: false,
  });
  const WORKER = { api: false, worker: { queues: [QueueName.ZoomRooms], explicit: true } };
  let worker: TestApp;
  let seq = 0;

  const http = () => ctx.http();
  const db = () => ctx.hub.app.get(DataSource);
  const dispatch = (body: Record<string, unknown>) => http().post('/api/v1/zoom-rooms/dispatches').set('x-api-key', API_KEY).send(body);
  const getDispatch = async (id: string): Promise<DispatchBody> =>
    (await http().get(`/api/v1/zoom-rooms/dispatches/${id}`).set('x-api-key', API_KEY).expect(200)).body as DispatchBody;
  /** The dispatch once its room was sent a leave that went through (left_at). */
  const leftAt = (id: string): Promise<DispatchBody> =>
    waitFor(
      async () => {
        const x = await getDispatch(id);
        return x.left_at ? x : undefined;
      },
      { what: `the room of dispatch ${id} to be sent its leave` },
    );
  const until = (id: string, status: string, timeoutMs = 10000): Promise<DispatchBody> =>
    waitFor(
      async () => {
        const d = await getDispatch(id);
        return d.status === status ? d : undefined;
      },
      { what: `dispatch ${id} to be ${status}`, timeoutMs },
    );
  const newRoom = (status: 'Available' | 'Offline' = 'Available') => ctx.sim.addRoom({ id: `rm_${++seq}_${Date.now().toString(36)}`, name: `Room ${seq}`, status });

  beforeAll(async () => {
    worker = await ctx.startApp(WORKER);
  });

  afterEach(() => jest.restoreAllMocks());

  it('lists every page of the account rooms, filters by status, caches briefly, and guards the route', async () => {
    const before = ctx.sim.restLog.filter((c) => c.path === '/v2/rooms').length;
    const avail = [newRoom(), newRoom(), newRoom()];
    newRoom('Offline');
    const res = await http().get('/api/v1/zoom-rooms?status=available').set('x-api-key', API_KEY).expect(200);
    const ids = (res.body.data as Array<{ id: string; status: string }>).map((r) => r.id);
    for (const r of avail) expect(ids).toContain(r.id);
    expect((res.body.data as Array<{ status: string }>).every((r) => r.status === 'Available')).toBe(true);
    expect(res.body.cached).toBe(false);
    expect(JSON.stringify(res.body)).not.toContain('activation_code');
    const pages = ctx.sim.restLog.filter((c) => c.path === '/v2/rooms').slice(before);
    expect(pages.length).toBeGreaterThanOrEqual(2); // page_size 2: every page followed
    expect(pages.every((c) => c.query.status === 'Available')).toBe(true);
    const again = await http().get('/api/v1/zoom-rooms?status=Available').set('x-api-key', API_KEY).expect(200);
    expect(again.body.cached).toBe(true);
    expect(ctx.sim.restLog.filter((c) => c.path === '/v2/rooms').length).toBe(before + pages.length);
    const bad = await http().get('/api/v1/zoom-rooms?status=Sleeping').set('x-api-key', API_KEY).expect(400);
    expect(bad.body.error).toBe('validation_failed');
    await http().get('/api/v1/zoom-rooms').expect(401);
  });

  it("answers 502 zoom_unavailable, not 500, while the account's rooms calls are paused past what a list request waits", async () => {
    const limiter = ctx.hub.app.get(RoomsRateLimiter, { strict: false });
    await limiter.penalize(20_000); // a 429 with Retry-After 20 s (to any process's rooms call)
    try {
      const res = await http().get('/api/v1/zoom-rooms?status=offline').set('x-api-key', API_KEY).expect(502);
      expect(res.body).toMatchObject({ error: 'zoom_unavailable' });
    } finally {
      const key = (limiter as unknown as { key: string }).key;
      await ctx.hub.app.get<Redis>(REDIS_CLIENT).del(key);
    }
  });

  it('dispatches 3 rooms with leave after 2 s: three joins, the rooms are in the meeting, three leaves ~2 s later', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [{ userId: 101, name: 'Host' }] });
    const rooms = [newRoom(), newRoom(), newRoom()];
    const res = await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: rooms.map((r) => r.id), leave_after_seconds: 2 }).expect(202);
    const created = res.body.data as DispatchBody[];
    expect(created).toHaveLength(3);
    expect(created.every((d) => d.status === 'queued' && d.has_passcode && !d.existing)).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain(PASSCODE);

    const joined = await Promise.all(created.map((d) => until(d.id, 'joined')));
    const mt = ctx.sim.meetings.get(meeting.id)!;
    const present = mt.presentAt(mt.now()).filter((p) => p.roomId);
    expect(present.map((p) => p.roomId).sort()).toEqual(rooms.map((r) => r.id).sort());
    expect(rooms.every((r) => ctx.sim.rooms.get(r.id)?.status === 'InMeeting')).toBe(true);
    for (const r of rooms) {
      const [join] = roomEvents(ctx.sim, r.id, 'zoomroom.meeting_join');
      expect(JSON.parse(join.body)).toEqual({ method: 'zoomroom.meeting_join', params: { meeting_number: String(meeting.id), passcode: PASSCODE } });
      expect(join.status).toBe(202);
    }

    await Promise.all(created.map((d) => until(d.id, 'left', 8000)));
    for (const r of rooms) {
      const [join] = roomEvents(ctx.sim, r.id, 'zoomroom.meeting_join');
      const leaves = roomEvents(ctx.sim, r.id, 'zoomroom.meeting_leave');
      expect(leaves).toHaveLength(1);
      expect(JSON.parse(leaves[0].body)).toEqual({ method: 'zoomroom.meeting_leave', params: {} });
      const gap = leaves[0].at - join.at;
      expect(gap).toBeGreaterThanOrEqual(1950);
      expect(gap).toBeLessThan(3500);
      expect(ctx.sim.rooms.get(r.id)?.status).toBe('Available');
    }
    expect(mt.presentAt(mt.now()).filter((p) => p.roomId)).toHaveLength(0);
    expect(joined.every((d) => d.attempts === 1)).toBe(true);
    // The passcode is sealed at rest.
    const rows = (await db().query('SELECT passcode_enc FROM room_dispatches WHERE id = ANY($1)', [created.map((d) => d.id)])) as Array<{ passcode_enc: string }>;
    expect(rows.every((r) => r.passcode_enc.startsWith('v1.') && !r.passcode_enc.includes(PASSCODE))).toBe(true);
    // Apps hear one zoom_room.joined and one zoom_room.left per dispatch (no session here: no sequence), never the passcode.
    const announced = (await db().query(`SELECT type, session_id, data FROM app_events WHERE data->>'dispatch_id' = ANY($1) ORDER BY created_at`, [created.map((d) => d.id)])) as Array<{
      type: string;
      session_id: string | null;
      data: Record<string, unknown>;
    }>;
    for (const d of created) {
      const mine = announced.filter((e) => e.data.dispatch_id === d.id);
      expect(mine.map((e) => e.type)).toEqual(['zoom_room.joined', 'zoom_room.left']);
      for (const e of mine) expect(e.data).toEqual({ dispatch_id: d.id, room_id: d.room_id, meeting_number: String(meeting.id), session_id: null, sequence: null });
    }
    expect(JSON.stringify(announced)).not.toContain(PASSCODE);
  });

  it('does not join twice when the same room is dispatched into the same meeting while active', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    const first = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    const second = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    expect(second.id).toBe(first.id);
    expect(second.existing).toBe(true);
    await until(first.id, 'joined');
    const third = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id] }).expect(202)).body.data[0] as DispatchBody;
    expect(third).toMatchObject({ id: first.id, existing: true, status: 'joined' });
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join')).toHaveLength(1);

    // DELETE: a joined room that stays (leave_after_seconds 0) leaves now.
    await http().delete(`/api/v1/zoom-rooms/dispatches/${first.id}`).set('x-api-key', API_KEY).expect(202);
    await until(first.id, 'left');
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave')).toHaveLength(1);
    const done = await http().delete(`/api/v1/zoom-rooms/dispatches/${first.id}`).set('x-api-key', API_KEY).expect(409);
    expect(done.body.error).toBe('room_dispatch_finished');
  });

  it('fails an offline room at once with Zoom code and message (API, metrics, failed job), and the retry endpoint re-runs it', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom('Offline');
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    const failed = await until(d.id, 'failed');
    expect(failed).toMatchObject({ failed_step: 'join', zoom_status: 400, zoom_code: '3000', zoom_message: 'Zoom Room is offline.', attempts: 1 });
    expect(failed.error).toContain('Zoom Room is offline.');
    expect(roomEvents(ctx.sim, room.id)).toHaveLength(1); // no blind retries
    const [announcedFailure] = (await db().query(`SELECT data FROM app_events WHERE type = 'zoom_room.failed' AND data->>'dispatch_id' = $1`, [d.id])) as Array<{ data: Record<string, unknown> }>;
    expect(announcedFailure.data).toMatchObject({ dispatch_id: d.id, room_id: room.id, step: 'join', zoom_status: 400, zoom_code: '3000', error: expect.stringContaining('Zoom Room is offline.') });

    // Bull Board shows the job in the failed set with Zoom's reason.
    // The dispatch row says failed just before BullMQ moves the job to the failed set.
    const job = await waitForJobState(ctx.hub.producer.queueFor(JobName.RoomJoin), jobIdFor(JobName.RoomJoin, { dispatchId: d.id, round: 1 }) as string, 'failed');
    expect(job.failedReason).toContain('code 3000');
    expect(job.failedReason).not.toContain(PASSCODE);
    const metrics = await request(worker.app.getHttpServer()).get('/metrics').set('x-api-key', API_KEY).expect(200);
    expect(metrics.text).toMatch(/rtms_hub_zoom_rooms_dispatches_total\{outcome="failed_join"\} [1-9]/);
    expect(metrics.text).toMatch(/rtms_hub_zoom_rooms_calls_total\{call="join",outcome="refused"\} [1-9]/);
    const apiMetrics = await http().get('/metrics').set('x-api-key', API_KEY).expect(200);
    expect(apiMetrics.text).toMatch(/rtms_hub_zoom_rooms_dispatches\{status="failed"\} [1-9]/);
    const listed = await http().get('/api/v1/zoom-rooms/dispatches?status=failed').set('x-api-key', API_KEY).expect(200);
    expect((listed.body.data as DispatchBody[]).map((x) => x.id)).toContain(d.id);

    // Only a failed dispatch can be retried; this one can once the room is online.
    ctx.sim.rooms.get(room.id)!.status = 'Available';
    const retried = (await http().post(`/api/v1/zoom-rooms/dispatches/${d.id}/retry`).set('x-api-key', API_KEY).expect(202)).body as DispatchBody;
    expect(retried).toMatchObject({ status: 'queued', round: 2, failed_step: null, zoom_code: null });
    const joined = await until(d.id, 'joined');
    expect(joined.round).toBe(2);
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join').map((c) => c.status)).toEqual([400, 202]);
    const again = await http().post(`/api/v1/zoom-rooms/dispatches/${d.id}/retry`).set('x-api-key', API_KEY).expect(409);
    expect(again.body.error).toBe('room_dispatch_not_failed');
  });

  it('fails a wrong passcode at once (3004) and never logs or returns the passcode', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: 'wrong-one', room_ids: [room.id] }).expect(202)).body.data[0] as DispatchBody;
    const failed = await until(d.id, 'failed');
    expect(failed).toMatchObject({ zoom_status: 400, zoom_code: '3004', zoom_message: 'Wrong passcode.', attempts: 1 });
    expect(JSON.stringify(failed)).not.toContain('wrong-one');
  });

  it('429 then 202: waits Retry-After (no attempt used) and joins', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    ctx.sim.faults.rest429(`/v2/rooms/${room.id}/events`, 1, 1);
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    const joined = await until(d.id, 'joined');
    expect(joined).toMatchObject({ throttled_count: 1, attempts: 2, error: null });
    const calls = roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join');
    expect(calls.map((c) => c.status)).toEqual([429, 202]);
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(950);
  });

  it('500 x2 then 202: backs off and joins on the third attempt', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    ctx.sim.faults.rest5xx(`/v2/rooms/${room.id}/events`, 2, 500);
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    const joined = await until(d.id, 'joined');
    expect(joined.attempts).toBe(3);
    const calls = roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join');
    expect(calls.map((c) => c.status)).toEqual([500, 500, 202]);
    // Exponential from ZOOM_ROOMS_BACKOFF_MS (100 ms): at least 100 ms, then at least 200 ms.
    // (Lower bounds only: how long each job takes to run again on top of its wait varies
    // with the machine's load, so comparing the two gaps directly is not deterministic.)
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(100);
    expect(calls[2].at - calls[1].at).toBeGreaterThanOrEqual(200);
  });

  it('5xx on every attempt: fails after the configured attempts with the last error', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    ctx.sim.faults.rest5xx(`/v2/rooms/${room.id}/events`, 10, 503);
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id] }).expect(202)).body.data[0] as DispatchBody;
    const failed = await until(d.id, 'failed');
    expect(failed).toMatchObject({ failed_step: 'join', attempts: 4, zoom_status: 503 });
    expect(failed.error).toContain('gave up after 4 call(s)');
    ctx.sim.faults.clear();
  });

  it('DELETE cancels a join that is waiting for a retry; the room never joins', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    ctx.sim.faults.rest429(`/v2/rooms/${room.id}/events`, 1, 2);
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id] }).expect(202)).body.data[0] as DispatchBody;
    await waitFor(async () => (await getDispatch(d.id)).throttled_count === 1, { what: 'the 429' });
    // The count is stored just before the job moves to delayed (an active job's lock would keep it).
    await waitForJobState(ctx.hub.producer.queueFor(JobName.RoomJoin), jobIdFor(JobName.RoomJoin, { dispatchId: d.id, round: 1 }) as string, 'delayed');
    const cancelled = (await http().delete(`/api/v1/zoom-rooms/dispatches/${d.id}`).set('x-api-key', API_KEY).expect(202)).body as DispatchBody;
    expect(cancelled.status).toBe('cancelled');
    const job = await ctx.hub.producer.queueFor(JobName.RoomJoin).getJob(jobIdFor(JobName.RoomJoin, { dispatchId: d.id, round: 1 }) as string);
    expect(job).toBeUndefined();
    // Past the Retry-After, nothing joined; and a 429 is no join: no leave is sent either.
    await ctx.queuesIdle({ queues: [QueueName.ZoomRooms] });
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join').map((c) => c.status)).toEqual([429]);
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave')).toHaveLength(0);
    expect((await getDispatch(d.id)).status).toBe('cancelled');
  });

  it('a worker killed between join and leave: a new worker performs the leave on time', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 3 }).expect(202)).body.data[0] as DispatchBody;
    await until(d.id, 'joined');
    await ctx.stopApp(worker);
    worker = await ctx.startApp(WORKER);
    await until(d.id, 'left', 10000);
    const [join] = roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join');
    const leaves = roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave');
    expect(leaves).toHaveLength(1);
    const gap = leaves[0].at - join.at;
    expect(gap).toBeGreaterThanOrEqual(2950);
    expect(gap).toBeLessThan(4500);
  });

  it('automatic dispatch from the capture policy: passcode sealed, dispatched once per session', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const rooms = [newRoom(), newRoom()];
    const bad = await http()
      .post('/api/v1/sessions')
      .set('x-api-key', API_KEY)
      .send({ platform: 'zoom', meeting_id: String(meeting.id), capture_policy: { zoom_rooms: { room_ids: [rooms[0].id], all_available: true } } })
      .expect(400);
    expect(JSON.stringify(bad.body)).toContain('either room_ids or all_available');
    await http()
      .post('/api/v1/sessions')
      .set('x-api-key', API_KEY)
      .send({ platform: 'zoom', meeting_id: String(meeting.id), capture_policy: { zoom_rooms: { room_ids: ['../etc'] } } })
      .expect(400);

    const created = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: { zoom_rooms: { room_ids: rooms.map((r) => r.id), passcode: PASSCODE, leave_after_seconds: 0 } } });
    const sessionId = created.id;
    expect((created.capture_policy as { zoom_rooms: unknown }).zoom_rooms).toMatchObject({ room_ids: rooms.map((r) => r.id), has_passcode: true, meeting_number: null, leave_after_seconds: 0 });
    expect(JSON.stringify(created)).not.toContain(PASSCODE);
    const [stored] = (await db().query('SELECT capture_policy::text AS p FROM sessions WHERE id = $1', [sessionId])) as Array<{ p: string }>;
    expect(stored.p).not.toContain(PASSCODE);
    expect(stored.p).toContain('passcode_enc');

    // The stream client enqueues this after the first media handshake (maybe more than once).
    await ctx.hub.producer.enqueue(JobName.RoomsAutoDispatch, { sessionId });
    await ctx.hub.producer.enqueue(JobName.RoomsAutoDispatch, { sessionId });
    const list = await waitFor(
      async () => {
        const res = await http().get(`/api/v1/zoom-rooms/dispatches?session_id=${sessionId}`).set('x-api-key', API_KEY).expect(200);
        const data = res.body.data as DispatchBody[];
        return data.length === 2 && data.every((x) => x.status === 'joined') ? data : undefined;
      },
      { what: 'both rooms joined' },
    );
    expect(list.map((x) => x.room_id).sort()).toEqual(rooms.map((r) => r.id).sort());
    for (const r of rooms) {
      const [join] = roomEvents(ctx.sim, r.id, 'zoomroom.meeting_join');
      expect(JSON.parse(join.body).params).toEqual({ meeting_number: String(meeting.id), passcode: PASSCODE });
    }
    // Both auto-dispatch jobs (and the joins they queued) have run.
    await ctx.queuesIdle({ queues: [QueueName.ZoomRooms] });
    expect((await db().query('SELECT COUNT(*)::int AS n FROM room_dispatches WHERE session_id = $1', [sessionId]))[0].n).toBe(2);
    const events = await http().get(`/api/v1/sessions/${sessionId}/events`).set('x-api-key', API_KEY).expect(200);
    const types = (events.body.data as Array<{ event_type: string }>).map((e) => e.event_type);
    expect(types).toContain('zoom_rooms.dispatched');
    expect(types.filter((t) => t === 'zoom_room.joined')).toHaveLength(2);
  });

  it('automatic dispatch of a room another dispatch already holds in the meeting: no second join, no row of the session, and its timeline names the holder', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const [heldRoom, freeRoom] = [newRoom(), newRoom()];
    const holder = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [heldRoom.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    await until(holder.id, 'joined');
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: { zoom_rooms: { room_ids: [heldRoom.id, freeRoom.id], passcode: PASSCODE, leave_after_seconds: 0 } } });

    await ctx.hub.producer.enqueue(JobName.RoomsAutoDispatch, { sessionId });
    const job = await waitForJobState(ctx.hub.producer.queueFor(JobName.RoomsAutoDispatch), jobIdFor(JobName.RoomsAutoDispatch, { sessionId }) as string, 'completed');
    expect(job.returnvalue).toEqual({ dispatched: 1, held: 1 });
    const mine = (await http().get(`/api/v1/zoom-rooms/dispatches?session_id=${sessionId}`).set('x-api-key', API_KEY).expect(200)).body.data as DispatchBody[];
    expect(mine.map((d) => d.room_id)).toEqual([freeRoom.id]);
    await until(mine[0].id, 'joined');
    const events = (await db().query(`SELECT payload FROM session_events WHERE session_id = $1 AND event_type = 'zoom_rooms.dispatched'`, [sessionId])) as Array<{ payload: Record<string, unknown> }>;
    expect(events.map((e) => e.payload)).toEqual([{ dispatch_ids: [mine[0].id], room_ids: [freeRoom.id], held: [{ room_id: heldRoom.id, dispatch_id: holder.id, status: 'joined' }] }]);
    expect(roomEvents(ctx.sim, heldRoom.id, 'zoomroom.meeting_join')).toHaveLength(1);

    for (const d of [holder, mine[0]]) {
      await http().delete(`/api/v1/zoom-rooms/dispatches/${d.id}`).set('x-api-key', API_KEY).expect(202);
      await until(d.id, 'left');
    }
  });

  it('a Redis error queuing the delayed leave after Zoom joined: the retried join job queues it and the room leaves on time', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    failEnqueue(worker, JobName.RoomLeave);
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 1 }).expect(202)).body.data[0] as DispatchBody;
    await until(d.id, 'left', 8000);
    const joins = roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join');
    const leaves = roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave');
    expect(joins).toHaveLength(1);
    expect(leaves).toHaveLength(1);
    expect(leaves[0].at - joins[0].at).toBeGreaterThanOrEqual(950);
    expect(ctx.sim.rooms.get(room.id)?.status).toBe('Available');
  });

  it('DELETE while Zoom joins the room, then a Redis error queuing its leave: the retried join job makes the room leave', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    const join = holdJoin(worker, room.id);
    failEnqueue(worker, JobName.RoomLeave);
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    await waitFor(join.reached, { what: 'the join call to be in flight' });
    const cancelled = (await http().delete(`/api/v1/zoom-rooms/dispatches/${d.id}`).set('x-api-key', API_KEY).expect(202)).body as DispatchBody;
    expect(cancelled.status).toBe('cancelled');
    join.release();
    const left = await waitFor(
      async () => {
        const x = await getDispatch(d.id);
        return x.left_at ? x : undefined;
      },
      { what: `dispatch ${d.id} to record the room's leave` },
    );
    expect(left).toMatchObject({ status: 'cancelled', joined_at: expect.any(String) });
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join').map((c) => c.status)).toEqual([202]);
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave').map((c) => c.status)).toEqual([202]);
    expect(ctx.sim.rooms.get(room.id)?.status).toBe('Available');
  });

  it('the worker dies after Zoom joined the room and before recording it, and the dispatch is cancelled meanwhile: the re-run join has the room leave', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    const crash = dieAfterJoin(worker, room.id);
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    await waitFor(crash.answered, { what: "Zoom's answer to the join" });
    expect(ctx.sim.rooms.get(room.id)?.status).toBe('InMeeting');
    // The job is still running (a dead worker's lock holds until it expires): DELETE cannot
    // remove it, and sends no leave itself — it could reach Zoom before a join in flight.
    const cancelled = (await http().delete(`/api/v1/zoom-rooms/dispatches/${d.id}`).set('x-api-key', API_KEY).expect(202)).body as DispatchBody;
    expect(cancelled).toMatchObject({ status: 'cancelled', joined_at: null });
    // The crashed state the re-run finds: cancelled, a join sent, no answer recorded.
    const [crashed] = (await db().query('SELECT status, join_sent_at, joined_at FROM room_dispatches WHERE id = $1', [d.id])) as Array<Record<string, unknown>>;
    expect(crashed).toMatchObject({ status: 'cancelled', join_sent_at: expect.any(Date), joined_at: null });
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave')).toHaveLength(0);
    crash.die();

    const left = await waitFor(
      async () => {
        const x = await getDispatch(d.id);
        return x.left_at ? x : undefined;
      },
      { what: `the room of dispatch ${d.id} to leave` },
    );
    expect(left).toMatchObject({ status: 'cancelled', joined_at: null });
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join').map((c) => c.status)).toEqual([202]); // no second join
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave').map((c) => c.status)).toEqual([202]);
    expect(ctx.sim.rooms.get(room.id)?.status).toBe('Available');
    const rerun = await waitForJobState(ctx.hub.producer.queueFor(JobName.RoomJoin), jobIdFor(JobName.RoomJoin, { dispatchId: d.id, round: 1 }) as string, 'completed');
    expect(rerun.returnvalue).toEqual({ status: 'cancelled', skipped: true });
  });

  it('the worker dies after Zoom joined the room and before recording it: the re-run join gets "already in a meeting", the dispatch is joined and leaves on schedule', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    const crash = dieAfterJoin(worker, room.id);
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 2 }).expect(202)).body.data[0] as DispatchBody;
    await waitFor(crash.answered, { what: "Zoom's answer to the join" });
    // The crash state the re-run finds: joining, a join sent, no answer recorded; the room is in our meeting.
    const [crashed] = (await db().query('SELECT status, join_sent_at, joined_at FROM room_dispatches WHERE id = $1', [d.id])) as Array<Record<string, unknown>>;
    expect(crashed).toMatchObject({ status: 'joining', join_sent_at: expect.any(Date), joined_at: null });
    expect(ctx.sim.rooms.get(room.id)).toMatchObject({ status: 'InMeeting', meetingId: meeting.id });
    crash.die();

    const joined = await until(d.id, 'joined');
    expect(joined).toMatchObject({ failed_step: null, error: null, zoom_status: 400, zoom_code: '3000', zoom_message: 'Zoom Room is already in a meeting.', joined_at: expect.any(String) });
    const joins = roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join');
    expect(joins.map((c) => c.status)).toEqual([202, 400]);

    await until(d.id, 'left', 8000);
    const leaves = roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave');
    expect(leaves.map((c) => c.status)).toEqual([202]);
    // On schedule: leave_after_seconds after the join was known (the re-run's answer).
    const gap = leaves[0].at - joins[1].at;
    expect(gap).toBeGreaterThanOrEqual(1950);
    expect(gap).toBeLessThan(3500);
    expect(ctx.sim.rooms.get(room.id)?.status).toBe('Available');
    const announced = (await db().query(`SELECT type FROM app_events WHERE data->>'dispatch_id' = $1 ORDER BY created_at`, [d.id])) as Array<{ type: string }>;
    expect(announced.map((e) => e.type)).toEqual(['zoom_room.joined', 'zoom_room.left']);
  });

  it('a join refused "already in a meeting" on its first request (the room is in another meeting) stays failed, and DELETE still refuses it', async () => {
    const other = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    const busy = (await dispatch({ meeting_number: String(other.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    await until(busy.id, 'joined');

    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    const failed = await until(d.id, 'failed');
    expect(failed).toMatchObject({ failed_step: 'join', zoom_status: 400, zoom_code: '3000', zoom_message: 'Zoom Room is already in a meeting.', joined_at: null, attempts: 1 });
    const [row] = (await db().query('SELECT join_sent_at FROM room_dispatches WHERE id = $1', [d.id])) as Array<{ join_sent_at: Date | null }>;
    expect(row.join_sent_at).toBeNull();
    await waitForJobState(ctx.hub.producer.queueFor(JobName.RoomJoin), jobIdFor(JobName.RoomJoin, { dispatchId: d.id, round: 1 }) as string, 'failed');

    // Never in our meeting: DELETE refuses as before, and sends no leave (that would take the room out of the other meeting).
    const refused = await http().delete(`/api/v1/zoom-rooms/dispatches/${d.id}`).set('x-api-key', API_KEY).expect(409);
    expect(refused.body.error).toBe('room_dispatch_finished');
    await ctx.queuesIdle({ queues: [QueueName.ZoomRooms] });
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave')).toHaveLength(0);
    expect(ctx.sim.rooms.get(room.id)).toMatchObject({ status: 'InMeeting', meetingId: other.id });
    expect((await getDispatch(d.id)).status).toBe('failed');

    await http().delete(`/api/v1/zoom-rooms/dispatches/${busy.id}`).set('x-api-key', API_KEY).expect(202);
    await until(busy.id, 'left');
  });

  it('POST retry of a join that failed after its request went to Zoom: the room busy in another meeting answers "already in a meeting", the retry fails and no leave takes the room out of that meeting', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const other = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    // Round 1: every join times out before it reaches Zoom (join_sent_at is written anyway: Zoom may have acted).
    const client = worker.app.get(ZoomRoomsClient, { strict: false });
    const send = client.sendEvent.bind(client);
    let failJoins = true;
    jest.spyOn(client, 'sendEvent').mockImplementation(async (id, method, params, token) => {
      if (id === room.id && method === 'zoomroom.meeting_join' && failJoins) throw new ZoomTransportError('PATCH /rooms/{id}/events', 'timeout after 2000 ms');
      return send(id, method, params, token);
    });
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 2 }).expect(202)).body.data[0] as DispatchBody;
    await until(d.id, 'failed');
    failJoins = false;
    // Meanwhile the room went into somebody else's meeting.
    const busy = (await dispatch({ meeting_number: String(other.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    await until(busy.id, 'joined');

    const retried = (await http().post(`/api/v1/zoom-rooms/dispatches/${d.id}/retry`).set('x-api-key', API_KEY).expect(202)).body as DispatchBody;
    expect(retried).toMatchObject({ status: 'queued', round: 2 });
    const failed = await until(d.id, 'failed');
    expect(failed).toMatchObject({ round: 2, failed_step: 'join', zoom_code: '3000', zoom_message: 'Zoom Room is already in a meeting.', joined_at: null });
    const [row] = (await db().query('SELECT join_sent_at FROM room_dispatches WHERE id = $1', [d.id])) as Array<{ join_sent_at: Date | null }>;
    expect(row.join_sent_at).toBeNull();
    // Past when its leave would have been due: the room is still in the other meeting, and DELETE refuses (no leave).
    await new Promise((r) => setTimeout(r, 2500));
    await ctx.queuesIdle({ queues: [QueueName.ZoomRooms] });
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave')).toHaveLength(0);
    expect(ctx.sim.rooms.get(room.id)).toMatchObject({ status: 'InMeeting', meetingId: other.id });
    expect((await http().delete(`/api/v1/zoom-rooms/dispatches/${d.id}`).set('x-api-key', API_KEY).expect(409)).body.error).toBe('room_dispatch_finished');

    await http().delete(`/api/v1/zoom-rooms/dispatches/${busy.id}`).set('x-api-key', API_KEY).expect(202);
    await until(busy.id, 'left');
  });

  it('DELETE of a join that failed after it went to Zoom (timeouts until the attempts ran out): the room is sent a leave, the dispatch ends cancelled', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    // The first join reaches Zoom (the room joins) and its answer is lost; every retry times out before reaching Zoom.
    const client = worker.app.get(ZoomRoomsClient, { strict: false });
    const send = client.sendEvent.bind(client);
    let joinCalls = 0;
    jest.spyOn(client, 'sendEvent').mockImplementation(async (id, method, params, token) => {
      if (id !== room.id || method !== 'zoomroom.meeting_join') return send(id, method, params, token);
      if (++joinCalls === 1) await send(id, method, params, token);
      throw new ZoomTransportError('PATCH /rooms/{id}/events', 'timeout after 2000 ms');
    });
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    const failed = await until(d.id, 'failed');
    expect(failed).toMatchObject({ failed_step: 'join', joined_at: null, attempts: 4 });
    expect(failed.error).toContain('gave up after 4 call(s)');
    const [row] = (await db().query('SELECT join_sent_at FROM room_dispatches WHERE id = $1', [d.id])) as Array<{ join_sent_at: Date | null }>;
    expect(row.join_sent_at).toEqual(expect.any(Date));
    expect(ctx.sim.rooms.get(room.id)).toMatchObject({ status: 'InMeeting', meetingId: meeting.id });

    const cancelled = (await http().delete(`/api/v1/zoom-rooms/dispatches/${d.id}`).set('x-api-key', API_KEY).expect(202)).body as DispatchBody;
    expect(cancelled.status).toBe('cancelled');
    const left = await leftAt(d.id);
    expect(left).toMatchObject({ status: 'cancelled', joined_at: null, error: null });
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join').map((c) => c.status)).toEqual([202]);
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave').map((c) => c.status)).toEqual([202]);
    expect(ctx.sim.rooms.get(room.id)?.status).toBe('Available');
    await ctx.queuesIdle({ queues: [QueueName.ZoomRooms] });
    expect((await getDispatch(d.id)).status).toBe('cancelled');
    const again = await http().delete(`/api/v1/zoom-rooms/dispatches/${d.id}`).set('x-api-key', API_KEY).expect(409);
    expect(again.body.error).toBe('room_dispatch_finished');
  });

  it.each([
    { what: 'Zoom joined the room and the answer was lost', reached: true },
    { what: 'the request never reached Zoom', reached: false },
  ])('a join that timed out waits for its retry, and DELETE sends the room a leave in case it joined ($what): it ends cancelled', async ({ reached }) => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom();
    // The queue is paused as the join times out: the join waits for its retry, and the
    // leave DELETE queues waits too, until the queue resumes.
    const queue = ctx.hub.producer.queueFor(JobName.RoomJoin);
    const client = worker.app.get(ZoomRoomsClient, { strict: false });
    const send = client.sendEvent.bind(client);
    let timedOut = false;
    jest.spyOn(client, 'sendEvent').mockImplementation(async (id, method, params, token) => {
      if (id !== room.id || method !== 'zoomroom.meeting_join' || timedOut) return send(id, method, params, token);
      if (reached) await send(id, method, params, token);
      await queue.pause();
      timedOut = true;
      throw new ZoomTransportError('PATCH /rooms/{id}/events', 'timeout after 2000 ms');
    });
    try {
      const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
      const joinId = jobIdFor(JobName.RoomJoin, { dispatchId: d.id, round: 1 }) as string;
      await waitFor(async () => ['delayed', 'waiting', 'paused'].includes(await queue.getJobState(joinId)), { what: 'the join to wait for its retry' });
      expect(ctx.sim.rooms.get(room.id)?.status).toBe(reached ? 'InMeeting' : 'Available');

      const cancelled = (await http().delete(`/api/v1/zoom-rooms/dispatches/${d.id}`).set('x-api-key', API_KEY).expect(202)).body as DispatchBody;
      expect(cancelled.status).toBe('cancelled');
      expect(await queue.getJob(joinId)).toBeUndefined();
      await queue.resume();
      const left = await leftAt(d.id);
      expect(left).toMatchObject({ status: 'cancelled', joined_at: null, error: null });
      expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join').map((c) => c.status)).toEqual(reached ? [202] : []);
      // Zoom answers a leave for a room that is not in a meeting with 202 too.
      expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave').map((c) => c.status)).toEqual([202]);
      expect(ctx.sim.rooms.get(room.id)?.status).toBe('Available');
      await ctx.queuesIdle({ queues: [QueueName.ZoomRooms] });
      expect((await getDispatch(d.id)).status).toBe('cancelled');
    } finally {
      await queue.resume();
    }
  });

  it('a retry whose job cannot be queued puts the dispatch back to failed, and the next retry runs it', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = newRoom('Offline');
    const d = (await dispatch({ meeting_number: String(meeting.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    await until(d.id, 'failed');
    ctx.sim.rooms.get(room.id)!.status = 'Available';
    failEnqueue(ctx.hub, JobName.RoomJoin);
    const refused = await http().post(`/api/v1/zoom-rooms/dispatches/${d.id}/retry`).set('x-api-key', API_KEY);
    expect(refused.status).toBeGreaterThanOrEqual(500);
    expect(await getDispatch(d.id)).toMatchObject({ status: 'failed', failed_step: 'join', error: 'could not be queued', round: 2 });

    const retried = (await http().post(`/api/v1/zoom-rooms/dispatches/${d.id}/retry`).set('x-api-key', API_KEY).expect(202)).body as DispatchBody;
    expect(retried).toMatchObject({ status: 'queued', round: 3, error: null });
    await until(d.id, 'joined');
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_join').map((c) => c.status)).toEqual([400, 202]);
  });

  it('automatic dispatch that fails part way: its retry dispatches only the rooms that have no dispatch yet', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const rooms = [newRoom(), newRoom(), newRoom()];
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: { zoom_rooms: { room_ids: rooms.map((r) => r.id), passcode: PASSCODE, leave_after_seconds: 0 } } });
    // The second room's join cannot be queued: the first run stops there and throws.
    failEnqueue(worker, JobName.RoomJoin, 2);
    await ctx.hub.producer.enqueue(JobName.RoomsAutoDispatch, { sessionId });
    const job = await waitForJobState(ctx.hub.producer.queueFor(JobName.RoomsAutoDispatch), jobIdFor(JobName.RoomsAutoDispatch, { sessionId }) as string, 'completed');
    expect(job.attemptsMade).toBe(2);
    expect(job.returnvalue).toEqual({ dispatched: 1 });

    const byRoom = await waitFor(
      async () => {
        const res = await http().get(`/api/v1/zoom-rooms/dispatches?session_id=${sessionId}`).set('x-api-key', API_KEY).expect(200);
        const data = res.body.data as DispatchBody[];
        const map = new Map(data.map((x) => [x.room_id, x]));
        return map.size === 3 && map.get(rooms[0].id)?.status === 'joined' && map.get(rooms[2].id)?.status === 'joined' ? map : undefined;
      },
      { what: 'the first and third rooms joined' },
    );
    expect(byRoom.get(rooms[1].id)).toMatchObject({ status: 'failed', failed_step: 'join', error: 'could not be queued' });
    expect(roomEvents(ctx.sim, rooms[1].id)).toHaveLength(0);
    expect((await db().query('SELECT COUNT(*)::int AS n FROM room_dispatches WHERE session_id = $1', [sessionId]))[0].n).toBe(3);
    const dispatched = (await db().query(`SELECT payload FROM session_events WHERE session_id = $1 AND event_type = 'zoom_rooms.dispatched'`, [sessionId])) as Array<{ payload: { room_ids: string[] } }>;
    expect(dispatched.map((e) => e.payload.room_ids)).toEqual([[rooms[2].id]]);
  });

  it('rejects bad dispatch input with a clear 400 and creates nothing', async () => {
    const count = async () => Number((await db().query('SELECT COUNT(*)::int AS n FROM room_dispatches'))[0].n);
    const before = await count();
    for (const body of [
      { meeting_number: 'abc', room_ids: ['r1'] },
      { meeting_number: '123456789', room_ids: [] },
      { meeting_number: '123456789', room_ids: ['a/b'] },
      { meeting_number: '123456789', room_ids: ['r1'], leave_after_seconds: -1 },
      { meeting_number: '123456789', room_ids: ['r1'], extra: true },
    ]) {
      const res = await dispatch(body).expect(400);
      expect(res.body.statusCode).toBe(400);
    }
    await http().get('/api/v1/zoom-rooms/dispatches/not-a-uuid').set('x-api-key', API_KEY).expect(400);
    const missing = await http().get('/api/v1/zoom-rooms/dispatches/00000000-0000-4000-8000-000000000000').set('x-api-key', API_KEY).expect(404);
    expect(missing.body.error).toBe('room_dispatch_not_found');
    expect(await count()).toBe(before);
  });
});

describe('Zoom Rooms: a 50-room dispatch against a 2 req/s account limit, two workers', () => {
  const S2S = { clientId: 'rooms_rl_s2s', clientSecret: 'rooms_rl_s2s_secret', accountId: 'rooms_rl_account' };
  // Own queue prefix: the first suite's workers talk to another simulator.
  const ctx = useE2eContext({
    simulator: { s2s: S2S, roomsRateLimitPerSec: 2 },
    hub: { api: true, worker: { queues: [QueueName.ZoomRooms], explicit: true } },
    env: () => hubEnv(S2S, { ZOOM_ROOMS_RATE_LIMIT_PER_SEC: '2', ZOOM_ROOMS_PAGE_SIZE: '25', QUEUE_PREFIX: `${process.env.QUEUE_PREFIX}-rl` }),
    webhooks: false,
  });
  let workerB: TestApp;

  beforeAll(async () => {
    workerB = await ctx.startApp({ api: false, worker: { queues: [QueueName.ZoomRooms], explicit: true } });
  });

  it('joins all 50 Available rooms with no 429 and never more than 2 calls in a second', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    for (let i = 0; i < 50; i++) ctx.sim.addRoom({ id: `bulk_${i}`, name: `Bulk Room ${i}` });
    const started = Date.now();
    const res = await ctx.http()
      .post('/api/v1/zoom-rooms/dispatches')
      .set('x-api-key', API_KEY)
      .send({ meeting_number: String(meeting.id), passcode: PASSCODE, leave_after_seconds: 0 })
      .expect(202);
    expect(res.body.data).toHaveLength(50);
    const mt = ctx.sim.meetings.get(meeting.id)!;
    await waitFor(() => mt.presentAt(mt.now()).filter((p) => p.roomId).length === 50, { what: 'all 50 rooms in the meeting', timeoutMs: 50000, intervalMs: 100 });
    const totalMs = Date.now() - started;
    const calls = ctx.sim.restLog.filter((c) => c.path.startsWith('/v2/rooms'));
    expect(calls.filter((c) => c.status === 429)).toHaveLength(0);
    const perSecond = new Map<number, number>();
    for (const c of calls) perSecond.set(Math.floor(c.at / 1000), (perSecond.get(Math.floor(c.at / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(2);
    expect(calls.filter((c) => c.method === 'PATCH' && c.status === 202)).toHaveLength(50);
    expect(calls.filter((c) => c.method === 'GET')).toHaveLength(2); // 50 rooms, page_size 25
    // Both workers took part: the throttle is shared by the processes, not per process.
    for (const app of [ctx.hub, workerB]) {
      const m = await request(app.app.getHttpServer()).get('/metrics').set('x-api-key', API_KEY).expect(200);
      expect(m.text).toMatch(/rtms_hub_zoom_rooms_calls_total\{call="join",outcome="ok"\} [1-9]/);
    }
    const db = ctx.hub.app.get(DataSource);
    const rows = (await db.query("SELECT COUNT(*)::int AS n FROM room_dispatches WHERE meeting_number = $1 AND status = 'joined'", [String(meeting.id)])) as Array<{ n: number }>;
    expect(rows[0].n).toBe(50);
    console.log(`50-room dispatch at a 2 req/s limit: ${calls.length} rooms API calls, all joined in ${(totalMs / 1000).toFixed(1)} s, 0 x 429, max ${Math.max(...perSecond.values())} calls/s`);
  }, 60000);
});

describe('Zoom Rooms: the sample flow — rooms dispatched after the media handshake appear in the stream', () => {
  const S2S = { clientId: 'rooms_flow_s2s', clientSecret: 'rooms_flow_s2s_secret', accountId: 'rooms_flow_account' };
  const ctx = useE2eContext({
    simulator: { s2s: S2S, keepAliveIntervalMs: 500, videoScale: 0.25 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams, QueueName.ZoomRooms], explicit: true } },
    env: () => hubEnv(S2S, { ZOOM_ROOMS_RATE_LIMIT_PER_SEC: '50', QUEUE_PREFIX: `${process.env.QUEUE_PREFIX}-flow` }),
  });

  it('3 rooms named in the capture policy join once the stream runs, appear in it as participants (media + participant rows), and leave 2 s later', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [{ userId: 101, name: 'Ann' }] });
    const rooms = [1, 2, 3].map((i) => ctx.sim.addRoom({ id: `flow_${i}`, name: `Flow Room ${i}` }));
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: { zoom_rooms: { room_ids: rooms.map((r) => r.id), passcode: PASSCODE, leave_after_seconds: 2 } } });
    const stream = await ctx.sim.startRtms(meeting.id);

    const mt = ctx.sim.meetings.get(meeting.id)!;
    await waitFor(() => mt.presentAt(mt.now()).filter((p) => p.roomId).length === 3, { what: 'three rooms in the meeting', timeoutMs: 15000 });
    const roomUsers = mt.participants.filter((p) => p.roomId).map((p) => String(p.userId));
    // The rooms reach the hub's stream as participants: their media, and the hub's participant rows.
    await waitFor(() => roomUsers.every((u) => Object.keys(ctx.sim.record(stream.streamId).messagesSent.byUser[u] ?? {}).length > 0), { what: 'room media in the stream', timeoutMs: 10000 });
    const db = ctx.hub.app.get(DataSource);
    const participants = () => db.query('SELECT zoom_user_id, user_name, left_at FROM participants WHERE session_id = $1', [sessionId]) as Promise<Array<{ zoom_user_id: string; user_name: string; left_at: Date | null }>>;
    await waitFor(async () => (await participants()).filter((p) => p.user_name.startsWith('Flow Room')).length === 3, { what: 'rooms recorded as participants', timeoutMs: 10000 });
    expect((await participants()).filter((p) => p.user_name.startsWith('Flow Room')).map((p) => p.zoom_user_id).sort()).toEqual([...roomUsers].sort());
    // ...and leave ~2 s after joining.
    for (const r of rooms) {
      await waitFor(() => roomEvents(ctx.sim, r.id, 'zoomroom.meeting_leave').length === 1, { what: `room ${r.id} to leave`, timeoutMs: 8000 });
      const gap = roomEvents(ctx.sim, r.id, 'zoomroom.meeting_leave')[0].at - roomEvents(ctx.sim, r.id, 'zoomroom.meeting_join')[0].at;
      expect(gap).toBeGreaterThanOrEqual(1950);
      expect(gap).toBeLessThan(3500);
    }
    expect(mt.presentAt(mt.now()).filter((p) => p.roomId)).toHaveLength(0);
    await waitFor(async () => (await participants()).filter((p) => p.user_name.startsWith('Flow Room') && p.left_at !== null).length === 3, { what: 'rooms recorded as left' });
    const dispatches = await ctx.http().get(`/api/v1/zoom-rooms/dispatches?session_id=${sessionId}`).set('x-api-key', API_KEY).expect(200);
    expect((dispatches.body.data as DispatchBody[]).map((d) => d.status)).toEqual(['left', 'left', 'left']);
    await ctx.sim.stopRtms(stream.streamId);
  }, 40000);

  it("the meeting ends before a room's delayed leave is due: the dispatch ends with it (meeting_ended), and that leave never takes the room out of its next meeting", async () => {
    const LEAVE_AFTER = 10;
    const meetingA = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [{ userId: 301, name: 'Cy' }] });
    const meetingB = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [] });
    const room = ctx.sim.addRoom({ id: 'flow_end', name: 'Flow End Room' });
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meetingA.id, capturePolicy: { zoom_rooms: { room_ids: [room.id], passcode: PASSCODE, leave_after_seconds: LEAVE_AFTER } } });
    const http = () => ctx.http();
    const ofSession = async () => (await http().get(`/api/v1/zoom-rooms/dispatches?session_id=${sessionId}`).set('x-api-key', API_KEY).expect(200)).body.data as DispatchBody[];
    await ctx.sim.startRtms(meetingA.id);
    const [a] = await waitFor(async () => {
      const d = await ofSession();
      return d.length === 1 && d[0].status === 'joined' ? d : undefined;
    }, { what: 'the room joined meeting A', timeoutMs: 15000 });
    expect(ctx.sim.rooms.get(room.id)).toMatchObject({ status: 'InMeeting', meetingId: meetingA.id });

    // Meeting A ends: Zoom stops RTMS with STOP_BC_MEETING_ENDED (6), and the room is out of it.
    ctx.sim.endMeeting(meetingA.id);
    expect(ctx.sim.rooms.get(room.id)?.status).toBe('Available');
    const ended = await waitFor(async () => {
      const [d] = await ofSession();
      return d.status === 'left' ? d : undefined;
    }, { what: 'the dispatch to end with its meeting', timeoutMs: 8000 });
    expect(ended).toMatchObject({ id: a.id, end_reason: 'meeting_ended', left_at: expect.any(String) });
    expect(await ctx.hub.producer.queueFor(JobName.RoomLeave).getJob(jobIdFor(JobName.RoomLeave, { dispatchId: a.id, round: 1 }) as string)).toBeUndefined();

    // The room goes on to its next booking, meeting B (dispatched without a session here).
    const b = (await http().post('/api/v1/zoom-rooms/dispatches').set('x-api-key', API_KEY).send({ meeting_number: String(meetingB.id), passcode: PASSCODE, room_ids: [room.id], leave_after_seconds: 0 }).expect(202)).body.data[0] as DispatchBody;
    await waitFor(async () => ((await http().get(`/api/v1/zoom-rooms/dispatches/${b.id}`).set('x-api-key', API_KEY).expect(200)).body as DispatchBody).status === 'joined', { what: 'the room joined meeting B' });
    // Past when A's leave was due: no leave was sent, the room is still in B.
    const dueAt = new Date(a.joined_at as string).getTime() + LEAVE_AFTER * 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, dueAt - Date.now()) + 1500));
    expect(roomEvents(ctx.sim, room.id, 'zoomroom.meeting_leave')).toHaveLength(0);
    expect(ctx.sim.rooms.get(room.id)).toMatchObject({ status: 'InMeeting', meetingId: meetingB.id });
    expect((await http().get(`/api/v1/zoom-rooms/dispatches/${a.id}`).set('x-api-key', API_KEY).expect(200)).body).toMatchObject({ status: 'left', end_reason: 'meeting_ended' });

    // Apps and the session's timeline hear why it left.
    const db = ctx.hub.app.get(DataSource);
    const announced = (await db.query(`SELECT type, data FROM app_events WHERE data->>'dispatch_id' = $1 ORDER BY created_at`, [a.id])) as Array<{ type: string; data: Record<string, unknown> }>;
    expect(announced.map((e) => e.type)).toEqual(['zoom_room.joined', 'zoom_room.left']);
    expect(announced[1].data).toMatchObject({ dispatch_id: a.id, room_id: room.id, reason: 'meeting_ended' });
    const timeline = (await db.query(`SELECT payload FROM session_events WHERE session_id = $1 AND event_type = 'zoom_room.left'`, [sessionId])) as Array<{ payload: Record<string, unknown> }>;
    expect(timeline.map((e) => e.payload)).toEqual([expect.objectContaining({ dispatch_id: a.id, reason: 'meeting_ended' })]);

    await http().delete(`/api/v1/zoom-rooms/dispatches/${b.id}`).set('x-api-key', API_KEY).expect(202);
    await waitFor(() => ctx.sim.rooms.get(room.id)?.status === 'Available', { what: 'the room to leave meeting B' });
  }, 60000);
});

describe('Zoom Rooms: an automatic dispatch that failed, or could not be queued, is run again by the stream', () => {
  const S2S = { clientId: 'rooms_again_s2s', clientSecret: 'rooms_again_s2s_secret', accountId: 'rooms_again_account' };
  // Own simulator and queue prefix: all_available here means this suite's rooms only.
  const ctx = useE2eContext({
    simulator: { s2s: S2S, keepAliveIntervalMs: 500, videoScale: 0.25 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.ZoomRooms], explicit: true } },
    env: () =>
      hubEnv(S2S, {
        ZOOM_ROOMS_RATE_LIMIT_PER_SEC: '50',
        // rooms.auto-dispatch gives up after 3 quick attempts (in production: 5 over ~15 s).
        JOB_ATTEMPTS: '3',
        JOB_BACKOFF_MS: '50',
        RTMS_RECONNECT_BASE_MS: '100',
        RTMS_RECONNECT_MAX_MS: '500',
        QUEUE_PREFIX: `${process.env.QUEUE_PREFIX}-again`,
      }),
  });
  // The stream jobs run in their own app, so the stream can be handed over to another one.
  const STREAM_WORKER = { api: false, worker: { queues: [QueueName.RtmsStreams], explicit: true } };
  let streamWorker: TestApp;

  beforeAll(async () => {
    streamWorker = await ctx.startApp(STREAM_WORKER);
  });

  afterEach(() => jest.restoreAllMocks());

  const autoJobId = (sessionId: string) => jobIdFor(JobName.RoomsAutoDispatch, { sessionId }) as string;
  const autoQueue = () => ctx.hub.producer.queueFor(JobName.RoomsAutoDispatch);
  const sessionEvents = (sessionId: string, type: string) =>
    ctx.hub.app.get(DataSource).query(`SELECT payload FROM session_events WHERE session_id = $1 AND event_type = $2 ORDER BY created_at, id`, [sessionId, type]) as Promise<Array<{ payload: Record<string, unknown> }>>;
  const joinedRooms = async (sessionId: string) => {
    const res = await ctx.http().get(`/api/v1/zoom-rooms/dispatches?session_id=${sessionId}`).set('x-api-key', API_KEY).expect(200);
    return (res.body.data as DispatchBody[]).filter((d) => d.status === 'joined').map((d) => d.room_id).sort();
  };

  it('failed for good (Zoom rooms API down): zoom_rooms.dispatch_failed is on the session timeline, and the next stream job (a hand-over) dispatches the rooms', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [{ userId: 101, name: 'Ann' }] });
    const rooms = [1, 2].map((i) => ctx.sim.addRoom({ id: `again_${i}`, name: `Again Room ${i}` }));
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: { zoom_rooms: { all_available: true, passcode: PASSCODE, leave_after_seconds: 0 } } });
    // Zoom's rooms list answers 503 for as long as the outage lasts.
    ctx.sim.faults.restError({ status: 503, match: /^\/v2\/rooms$/, method: 'GET', count: 1000 });
    const stream = await ctx.sim.startRtms(meeting.id);

    // The first media handshake queued the job; it fails all its attempts.
    const failed = await waitForJobState(autoQueue(), autoJobId(sessionId), 'failed', { timeoutMs: 30_000 });
    expect(failed.attemptsMade).toBe(3);
    const [event] = await waitFor(async () => {
      const rows = await sessionEvents(sessionId, 'zoom_rooms.dispatch_failed');
      return rows.length > 0 ? rows : undefined;
    }, { what: 'zoom_rooms.dispatch_failed recorded' });
    expect(event.payload).toMatchObject({ attempts: 3, error: expect.stringContaining('503') });
    expect(JSON.stringify(event.payload)).not.toContain(PASSCODE);
    expect(await joinedRooms(sessionId)).toEqual([]);

    // Zoom is back. The stream is handed over to another worker: its media handshake queues
    // the job again, replacing the failed one BullMQ still holds.
    ctx.sim.faults.clear();
    const heir = await ctx.startApp(STREAM_WORKER);
    const handshakesBefore = ctx.sim.record(stream.streamId).readyAcks.length;
    await ctx.stopApp(streamWorker);
    streamWorker = heir;
    await waitFor(() => ctx.sim.record(stream.streamId).readyAcks.length > handshakesBefore, { what: 'the stream handshaken again by the new worker', timeoutMs: 20_000 });
    const done = await waitForJobState(autoQueue(), autoJobId(sessionId), 'completed', { timeoutMs: 15_000 });
    expect(done.returnvalue).toEqual({ dispatched: 2 });
    await waitFor(async () => (await joinedRooms(sessionId)).length === 2, { what: 'both rooms joined', timeoutMs: 15_000 });
    expect(await joinedRooms(sessionId)).toEqual(rooms.map((r) => r.id).sort());
    expect(await sessionEvents(sessionId, 'zoom_rooms.dispatched')).toHaveLength(1);
    await ctx.sim.stopRtms(stream.streamId);
  }, 90_000);

  it('could not be queued after the first media handshake (Redis blip): queued after the next media handshake, and the room joins', async () => {
    const meeting = ctx.sim.createMeeting({ passcode: PASSCODE, participants: [{ userId: 201, name: 'Bea' }] });
    const room = ctx.sim.addRoom({ id: 'again_blip', name: 'Blip Room' });
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: { zoom_rooms: { room_ids: [room.id], passcode: PASSCODE, leave_after_seconds: 0 } } });
    failEnqueue(streamWorker, JobName.RoomsAutoDispatch);
    const producer = streamWorker.app.get(JobProducer, { strict: false });
    const autoEnqueues = () => (producer.enqueue as jest.Mock).mock.calls.filter(([name]) => name === JobName.RoomsAutoDispatch).length;
    const stream = await ctx.sim.startRtms(meeting.id);

    await waitFor(() => autoEnqueues() === 1, { what: 'the refused enqueue after the first media handshake', timeoutMs: 20_000 });
    expect(await autoQueue().getJob(autoJobId(sessionId))).toBeUndefined();

    // Zoom drops the media socket: the media-only reconnect's handshake queues the job.
    const handshakesBefore = ctx.sim.record(stream.streamId).readyAcks.length;
    ctx.sim.faults.dropMedia(stream.streamId);
    await waitFor(() => ctx.sim.record(stream.streamId).readyAcks.length > handshakesBefore, { what: 'media handshaken again', timeoutMs: 20_000 });
    const done = await waitForJobState(autoQueue(), autoJobId(sessionId), 'completed', { timeoutMs: 15_000 });
    expect(done.returnvalue).toEqual({ dispatched: 1 });
    await waitFor(async () => (await joinedRooms(sessionId)).length === 1, { what: 'the room joined', timeoutMs: 15_000 });
    expect(autoEnqueues()).toBe(2);
    await ctx.sim.stopRtms(stream.streamId);
  }, 60_000);
});
