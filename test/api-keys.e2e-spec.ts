import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { JobName } from '../src/jobs/job-names';
import { connectZoomUser, newZoomUser } from './factories/oauth-connection.factory';
import { createSession } from './factories/session.factory';
import { useE2eContext } from './utils/e2e-context';
import { LiveTestClient } from './utils/live-test-client';
import { spawnEntrypoint } from './utils/processes';
import { API_KEY, TEST_KEYS } from './utils/test-app';

const REDIRECT_URI = 'https://keys.hub.example.test/api/v1/oauth/zoom/callback';
const S2S = { clientId: 'keys_e2e_s2s', clientSecret: 'keys_e2e_s2s_secret', accountId: 'keys_e2e_account' };
const UNAUTHORIZED = { statusCode: 401, error: 'invalid_api_key', message: 'Missing or invalid credentials' };

/**
 * Scoped API keys (test/utils/test-keys.ts): `reader` (read), `operator` (control), the
 * legacy bare admin key, and the owner-scoped `tenant-a` (control) and `tenant-b` (admin).
 */
describe('scoped API keys: roles, owner tags, uniform 401s', () => {
  const ctx = useE2eContext({
    simulator: { s2s: S2S, redirectUris: [REDIRECT_URI] },
    hub: { api: true },
    env: () => ({ ZOOM_REDIRECT_URI: REDIRECT_URI, ZOOM_S2S_CLIENT_ID: S2S.clientId, ZOOM_S2S_CLIENT_SECRET: S2S.clientSecret, ZOOM_ACCOUNT_ID: S2S.accountId }),
    webhooks: false,
  });
  const as = (key: string) => ({
    get: (path: string) => ctx.http().get(`/api/v1${path}`).set('x-api-key', key),
    post: (path: string, body: Record<string, unknown> = {}) => ctx.http().post(`/api/v1${path}`).set('x-api-key', key).send(body),
    delete: (path: string) => ctx.http().delete(`/api/v1${path}`).set('x-api-key', key),
  });
  const admin = as(API_KEY);
  const reader = as(TEST_KEYS.reader);
  const operator = as(TEST_KEYS.operator);
  const tenantA = as(TEST_KEYS.tenantA);
  const tenantB = as(TEST_KEYS.tenantB);
  const meeting = () => ({ platform: 'zoom', meeting_id: String(80_000_000_000 + Math.floor(Math.random() * 1e9)) });
  const ownerOf = async (table: string, id: string) => ((await ctx.hub.app.get(DataSource).query(`SELECT owner FROM ${table} WHERE id = $1`, [id])) as Array<{ owner: string | null }>)[0]?.owner;

  describe('roles', () => {
    it('a read key can GET but not POST or DELETE (403 insufficient_role)', async () => {
      const { id } = await createSession(ctx.hub, { meetingId: meeting().meeting_id });
      await reader.get(`/sessions/${id}`).expect(200);
      await reader.get('/sessions').expect(200);
      await reader.get(`/sessions/${id}/events`).expect(200);
      await reader.get(`/sessions/${id}/artifacts`).expect(200);
      await reader.get(`/sessions/${id}/rtms`).expect(200);
      await reader.get('/oauth/zoom/connections').expect(200);
      await reader.post('/live/tickets', { session_ids: [id] }).expect(201);

      const created = await reader.post('/sessions', meeting()).expect(403);
      expect(created.body).toMatchObject({ statusCode: 403, error: 'insufficient_role' });
      await reader.post(`/sessions/${id}/rtms/start`).expect(403);
      expect((await reader.delete(`/sessions/${id}`).expect(403)).body.error).toBe('insufficient_role');
      await reader.get('/webhook-endpoints').expect(403);
      await reader.get(`/sessions/${id}`).expect(200); // nothing changed
    });

    it('a control key creates sessions and starts RTMS, but cannot delete or manage OAuth and webhooks', async () => {
      const created = await operator.post('/sessions', meeting()).expect(201);
      const id = created.body.id as string;
      const started = await operator.post(`/sessions/${id}/rtms/start`).expect(202);
      expect(started.body).toMatchObject({ job_id: expect.any(String), replayed: false });

      expect((await operator.delete(`/sessions/${id}`).expect(403)).body.error).toBe('insufficient_role');
      await operator.get('/oauth/zoom/authorize').expect(403);
      await operator.delete(`/oauth/zoom/connections/${randomUUID()}`).expect(403);
      await operator.post('/webhook-endpoints', { url: 'https://app.example.test/hook' }).expect(403);
      await admin.get(`/sessions/${id}`).expect(200);
    });

    it('the legacy bare key is an admin key, and an unscoped admin sees every owner', async () => {
      const { id } = await createSession(ctx.hub, { meetingId: meeting().meeting_id }, TEST_KEYS.tenantA);
      await admin.get(`/sessions/${id}`).expect(200);
      await admin.get('/webhook-endpoints').expect(200);
      await ctx.http().get('/metrics').set('authorization', `Bearer ${API_KEY}`).expect(200);
      await admin.delete(`/sessions/${id}`).expect(204);
      await admin.get(`/sessions/${id}`).expect(404);
    });
  });

  describe('owner tags', () => {
    it("an owner-scoped key does not see another owner's sessions (404) and lists only its own", async () => {
      const a = (await tenantA.post('/sessions', meeting()).expect(201)).body.id as string;
      const b = (await tenantB.post('/sessions', meeting()).expect(201)).body.id as string;
      const unowned = (await admin.post('/sessions', meeting()).expect(201)).body.id as string;
      expect(await ownerOf('sessions', a)).toBe('tenant-a');
      expect(await ownerOf('sessions', b)).toBe('tenant-b');
      expect(await ownerOf('sessions', unowned)).toBeNull();

      await tenantA.get(`/sessions/${a}`).expect(200);
      for (const path of [`/sessions/${b}`, `/sessions/${b}/events`, `/sessions/${b}/participants`, `/sessions/${b}/artifacts`, `/sessions/${b}/transcript`, `/sessions/${b}/rtms`, `/sessions/${unowned}`]) {
        const res = await tenantA.get(path).expect(404);
        expect(res.body.error).toBe('session_not_found');
      }
      await tenantA.post(`/sessions/${b}/rtms/start`).expect(404);
      await tenantA.post('/live/tickets', { session_ids: [b] }).expect(404);
      await tenantA.post('/zoom-rooms/dispatches', { meeting_number: '123456789', room_ids: ['room-x'], session_id: b }).expect(404);
      await tenantB.delete(`/sessions/${a}`).expect(404);
      await tenantA.get(`/sessions/${a}`).expect(200); // still there

      const listed = (await tenantA.get('/sessions?limit=100').expect(200)).body.data as Array<{ id: string }>;
      expect(listed.map((s) => s.id)).toContain(a);
      expect(listed.map((s) => s.id)).not.toContain(b);
      expect(listed.map((s) => s.id)).not.toContain(unowned);
      const all = (await admin.get('/sessions?limit=100').expect(200)).body.data as Array<{ id: string }>;
      expect(all.map((s) => s.id)).toEqual(expect.arrayContaining([a, b, unowned]));

      // The SSE stream of another owner's session is as missing as the session.
      await ctx.http().get(`/api/v1/sessions/${b}/live`).set('x-api-key', TEST_KEYS.tenantA).expect(404);
      await tenantB.delete(`/sessions/${b}`).expect(204);
    });

    it("refuses to register a meeting another owner has an open session for (it would take over that owner's stream)", async () => {
      const m = meeting();
      const uuid = `owner-conflict-${Math.random().toString(36).slice(2)}==`;
      const a = (await tenantA.post('/sessions', { ...m, meeting_uuid: uuid }).expect(201)).body.id as string;
      const sessionsFor = async () => ((await ctx.hub.app.get(DataSource).query(`SELECT owner FROM sessions WHERE meeting_id = $1 OR meeting_uuid = $2`, [m.meeting_id, uuid])) as unknown[]).length;
      // By meeting id, by uuid, and from an unscoped key: refused, nothing stored.
      for (const [caller, body] of [
        [tenantB, m],
        [tenantB, { ...meeting(), meeting_uuid: uuid }],
        [admin, m],
      ] as const) {
        const res = await caller.post('/sessions', body).expect(409);
        expect(res.body.error).toBe('meeting_registered_by_another_owner');
      }
      expect(await sessionsFor()).toBe(1);
      // The owner itself may register the meeting again; once its sessions have ended, another owner may too.
      const again = (await tenantA.post('/sessions', m).expect(201)).body.id as string;
      for (const id of [a, again]) await ctx.hub.app.get(DataSource).query(`UPDATE sessions SET status = 'stopped' WHERE id = $1`, [id]);
      await tenantB.post('/sessions', m).expect(201);
    });

    it("room dispatches belong to their session's owner (else the creating key's) and are invisible to other owners", async () => {
      const a = (await tenantA.post('/sessions', meeting()).expect(201)).body.id as string;
      const b = (await tenantB.post('/sessions', meeting()).expect(201)).body.id as string;
      const dispatch = async (key: typeof admin, body: Record<string, unknown>) =>
        ((await key.post('/zoom-rooms/dispatches', { meeting_number: meeting().meeting_id, room_ids: [`room-${randomUUID()}`], ...body }).expect(202)).body.data as Array<{ id: string }>)[0].id;
      const ofA = await dispatch(tenantA, { session_id: a });
      const ofB = await dispatch(admin, { session_id: b }); // an unscoped key on tenant-b's session
      const unowned = await dispatch(operator, {});
      expect([await ownerOf('room_dispatches', ofA), await ownerOf('room_dispatches', ofB), await ownerOf('room_dispatches', unowned)]).toEqual(['tenant-a', 'tenant-b', null]);

      const listed = (await tenantA.get('/zoom-rooms/dispatches').expect(200)).body.data as Array<{ id: string }>;
      expect(listed.map((d) => d.id)).toContain(ofA);
      expect(listed.map((d) => d.id)).not.toContain(ofB);
      expect(listed.map((d) => d.id)).not.toContain(unowned);
      await tenantB.get(`/zoom-rooms/dispatches/${ofB}`).expect(200);
      for (const id of [ofB, unowned]) {
        expect((await tenantA.get(`/zoom-rooms/dispatches/${id}`).expect(404)).body.error).toBe('room_dispatch_not_found');
        await tenantA.post(`/zoom-rooms/dispatches/${id}/retry`).expect(404);
        await tenantA.delete(`/zoom-rooms/dispatches/${id}`).expect(404);
      }
      const all = (await admin.get('/zoom-rooms/dispatches').expect(200)).body.data as Array<{ id: string }>;
      expect(all.map((d) => d.id)).toEqual(expect.arrayContaining([ofA, ofB, unowned]));
      for (const [key, id] of [[tenantA, ofA], [tenantB, ofB], [operator, unowned]] as const) await key.delete(`/zoom-rooms/dispatches/${id}`).expect(202);
    });

    it("a dispatch refused because another owner's dispatch holds one of its rooms leaves nothing behind (no row, no join)", async () => {
      const meetingNumber = meeting().meeting_id;
      const busy = `room-${randomUUID()}`;
      const free = `room-${randomUUID()}`;
      await tenantB.post('/zoom-rooms/dispatches', { meeting_number: meetingNumber, room_ids: [busy] }).expect(202);
      const refused = await tenantA.post('/zoom-rooms/dispatches', { meeting_number: meetingNumber, room_ids: [free, busy] }).expect(409);
      expect(refused.body.error).toBe('room_busy');
      const rows = (await ctx.hub.app.get(DataSource).query(`SELECT id FROM room_dispatches WHERE room_id = $1`, [free])) as Array<{ id: string }>;
      expect(rows).toEqual([]);
      const joins = await ctx.hub.producer.queueFor(JobName.RoomJoin).getJobs(['waiting', 'delayed', 'active', 'prioritized', 'completed', 'failed']);
      expect(joins.filter((j) => JSON.stringify(j.data).includes(free) || rows.some((r) => j.data.dispatchId === r.id))).toEqual([]);
      // The free room alone can still be dispatched.
      await tenantA.post('/zoom-rooms/dispatches', { meeting_number: meetingNumber, room_ids: [free] }).expect(202);
    });

    it('refuses owner-scoped keys on routes that concern every owner (403)', async () => {
      const metrics = await ctx.http().get('/metrics').set('x-api-key', TEST_KEYS.tenantA).expect(403);
      expect(metrics.body).toMatchObject({ statusCode: 403, error: 'owner_scoped_key_refused' });
      expect((await tenantB.get('/webhook-endpoints').expect(403)).body.error).toBe('owner_scoped_key_refused');
    });

    it("an owner-scoped key sees only its owner's OAuth connections", async () => {
      const mine = await connectZoomUser(ctx.hub, ctx.sim, newZoomUser('keys_b'), TEST_KEYS.tenantB);
      const theirs = await connectZoomUser(ctx.hub, ctx.sim, newZoomUser('keys_admin'));
      expect(await ownerOf('oauth_connections', mine)).toBe('tenant-b');
      expect(await ownerOf('oauth_connections', theirs)).toBeNull();

      const listed = (await tenantB.get('/oauth/zoom/connections').expect(200)).body.data as Array<{ id: string }>;
      expect(listed.map((c) => c.id)).toEqual([mine]);
      await tenantB.get(`/oauth/zoom/connections/${mine}`).expect(200);
      expect((await tenantB.get(`/oauth/zoom/connections/${theirs}`).expect(404)).body.error).toBe('connection_not_found');
      await tenantB.delete(`/oauth/zoom/connections/${theirs}`).expect(404);
      expect((await tenantA.get('/oauth/zoom/connections').expect(200)).body.data).toEqual([]);
      const all = (await admin.get('/oauth/zoom/connections').expect(200)).body.data as Array<{ id: string }>;
      expect(all.map((c) => c.id)).toEqual(expect.arrayContaining([mine, theirs]));

      await tenantB.delete(`/oauth/zoom/connections/${mine}?force=true`).expect(204);
      await admin.delete(`/oauth/zoom/connections/${theirs}?force=true`).expect(204);
    });

    it("live: an owner-scoped key cannot subscribe to all sessions, nor to another owner's", async () => {
      const a = (await tenantA.post('/sessions', meeting()).expect(201)).body.id as string;
      const b = (await tenantB.post('/sessions', meeting()).expect(201)).body.id as string;
      const client = await LiveTestClient.connect(ctx.hub.baseUrl, { headers: { 'x-api-key': TEST_KEYS.tenantA } });
      try {
        await expect(client.subscribe({ id: 'all', sessions: 'all', media: ['events'] })).rejects.toThrow('live_session_not_allowed');
        await expect(client.subscribe({ id: 'b', sessions: [b], media: ['events'] })).rejects.toThrow('session_not_found');
        await expect(client.subscribe({ id: 'a', sessions: [a], media: ['events'] })).resolves.toMatchObject({ type: 'subscribed' });
      } finally {
        await client.close();
      }
      // A ticket carries the owner tag of the key that asked for it.
      const { ticket } = (await tenantA.post('/live/tickets').expect(201)).body as { ticket: string };
      const viaTicket = await LiveTestClient.connect(ctx.hub.baseUrl, { headers: {}, query: `ticket=${ticket}` });
      try {
        await expect(viaTicket.subscribe({ id: 'all', sessions: 'all', media: ['events'] })).rejects.toThrow('live_session_not_allowed');
        await expect(viaTicket.subscribe({ id: 'b', sessions: [b], media: ['events'] })).rejects.toThrow('session_not_found');
      } finally {
        await viaTicket.close();
      }
    });
  });

  describe('401', () => {
    it('answers missing, unknown and malformed credentials with the same body', async () => {
      const tries: Array<Record<string, string>> = [
        {},
        { 'x-api-key': 'not-a-configured-key-0123456789abcdef' },
        { 'x-api-key': TEST_KEYS.admin.slice(0, -1) },
        { authorization: `Basic ${Buffer.from(`x:${API_KEY}`).toString('base64')}` },
        { authorization: 'Bearer ' },
        { authorization: API_KEY },
      ];
      for (const headers of tries) {
        const res = await ctx.http().get('/api/v1/sessions').set(headers).expect(401);
        const { requestId, ...body } = res.body as Record<string, unknown>;
        expect(typeof requestId).toBe('string');
        expect(body).toEqual(UNAUTHORIZED);
      }
    });
  });

  describe('boot', () => {
    it('refuses an API key shorter than 32 characters, naming the entry but not the secret', async () => {
      const run = spawnEntrypoint('main.api.ts', { API_KEYS: `app:read:${'s'.repeat(40)},legacy-short-secret-value` });
      const { code } = await run.exited;
      expect(code).toBe(1);
      expect(run.output()).toContain('API_KEYS: entry 2 (a bare secret): the secret must be at least 32 characters');
      expect(run.output()).not.toContain('legacy-short-secret-value');
    });
  });
});
