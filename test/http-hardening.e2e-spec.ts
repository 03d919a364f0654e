import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import request from 'supertest';
import { QueueName } from '../src/jobs/queue-names';
import { MEDIA_STORAGE, MediaStorage } from '../src/modules/media-ingest/storage/media-storage';
import { createSession } from './factories/session.factory';
import { insertWebhookEndpoint } from './factories/webhook-endpoint.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { ADMIN_AUTH, API_KEY, TestApp } from './utils/test-app';

const storageRoot = mkdtempSync(path.join(os.tmpdir(), 'http-hardening-'));
const crafted = (c: unknown, i: unknown) => Buffer.from(JSON.stringify({ c, i })).toString('base64url');

/** Findings of the security review (issue 17) about the HTTP surface, each as a request. */
describe('HTTP hardening (security review)', () => {
  const ctx = useE2eContext({ hub: { api: true }, env: () => ({ STORAGE_LOCAL_DIR: storageRoot }) });
  afterAll(() => rmSync(storageRoot, { recursive: true, force: true }));

  describe('OpenAPI documents', () => {
    it.each([
      ['/docs', 'Swagger UI'],
      ['/docs-json', 'RTMS Hub API'],
      ['/docs-yaml', 'RTMS Hub API'],
    ])('%s needs admin credentials', async (url, content) => {
      const anonymous = await ctx.http().get(url).expect(401);
      expect(anonymous.body).toMatchObject({ error: 'invalid_admin_credentials' });
      expect(anonymous.text).not.toContain(content);
      const res = await ctx.http().get(url).set('Authorization', ADMIN_AUTH).expect(200);
      expect(res.text).toContain(content);
    });
  });

  describe('impossible dates and crafted cursors are a 400, never a 500', () => {
    it.each([
      '/api/v1/sessions?created_from=2026-02-31T00:00:00Z',
      '/api/v1/sessions?created_to=2026-02-29',
      '/api/v1/sessions?created_from=0000-01-01T00:00:00Z',
      '/api/v1/sessions?created_from=2026-W05',
      '/api/v1/deletions?created_from=2026-02-31T00:00:00Z',
      '/api/v1/deletions?created_to=2026-W05',
    ])('%s', async (url) => {
      const res = await ctx.http().get(url).set('x-api-key', API_KEY).expect(400);
      expect(res.body).toMatchObject({ error: 'validation_failed' });
    });

    it('artifact time filters', async () => {
      const session = await createSession(ctx.hub, { meetingId: 81234567001 });
      for (const q of ['from=2026-02-31T00:00:00Z', 'to=2026-04-31', 'from=20260131T000000Z']) {
        const res = await ctx.http().get(`/api/v1/sessions/${session.id}/artifacts?${q}`).set('x-api-key', API_KEY).expect(400);
        expect(res.body).toMatchObject({ error: 'validation_failed' });
      }
      await ctx.http().get(`/api/v1/sessions/${session.id}/artifacts?from=2026-02-28T00:00:00Z&to=2026-03-01`).set('x-api-key', API_KEY).expect(200);
    });

    it('webhook recover since', async () => {
      const endpoint = await insertWebhookEndpoint(ctx.hub.app, 'https://receiver.example.test/hook');
      try {
        for (const since of ['2026-02-31T00:00:00Z', '2026-W05']) {
          const res = await ctx.http().post(`/api/v1/webhook-endpoints/${endpoint.id}/recover?since=${since}`).set('x-api-key', API_KEY).expect(400);
          expect(res.body).toMatchObject({ error: 'validation_failed' });
        }
      } finally {
        await query(ctx.hub.app, 'DELETE FROM webhook_endpoints WHERE id = $1', [endpoint.id]);
      }
    });

    it.each([
      ['an impossible date', crafted('2026-02-31T00:00:00.000Z', randomUUID())],
      ['a date past what Postgres holds', crafted('+275760-09-13T00:00:00.000Z', randomUUID())],
      ['a non-UUID id', crafted('2026-12-01T00:00:00.000Z', '------------------------------------')],
    ])('a cursor with %s', async (_what, cursor) => {
      const session = await createSession(ctx.hub, { meetingId: 81234567002 });
      for (const url of [
        `/api/v1/sessions?cursor=${cursor}`,
        `/api/v1/sessions/${session.id}/events?cursor=${cursor}`,
        `/api/v1/sessions/${session.id}/artifacts?cursor=${cursor}`,
        `/api/v1/webhook-endpoints?cursor=${cursor}`,
        `/api/v1/deletions?cursor=${cursor}`,
      ]) {
        const res = await ctx.http().get(url).set('x-api-key', API_KEY);
        expect({ url, status: res.status, error: res.body.error }).toEqual({ url, status: 400, error: 'invalid_cursor' });
      }
    });
  });

  it('refuses an API body that is not JSON (415) instead of ignoring it; JSON and bodiless requests pass', async () => {
    const session = await createSession(ctx.hub, { meetingId: 81234567004 });
    const live = '/api/v1/live/tickets';
    const hold = `/api/v1/sessions/${session.id}/hold`;
    for (const [path, type, body] of [
      [live, 'text/plain', JSON.stringify({ session_ids: [session.id] })],
      [live, 'application/x-www-form-urlencoded', `session_ids=${session.id}`],
      [hold, 'text/plain', JSON.stringify({ reason: 'case 42' })],
      ['/api/v1/sessions', 'text/plain', JSON.stringify({ platform: 'zoom', meeting_id: '81234567005' })],
    ] as const) {
      const res = await ctx.http().post(path).set('x-api-key', API_KEY).set('Content-Type', type).send(body);
      expect({ path, type, status: res.status, error: res.body.error }).toEqual({ path, type, status: 415, error: 'unsupported_media_type' });
    }
    // Nothing was changed: no hold, no session for that meeting.
    expect((await ctx.http().get(`/api/v1/sessions/${session.id}`).set('x-api-key', API_KEY).expect(200)).body.legal_hold).toBeNull();
    expect((await ctx.http().get('/api/v1/sessions?meeting_id=81234567005').set('x-api-key', API_KEY).expect(200)).body.data).toEqual([]);
    // JSON (with a charset) and requests without a body are served as before.
    const ticket = await ctx.http().post(live).set('x-api-key', API_KEY).set('Content-Type', 'application/json; charset=utf-8').send(JSON.stringify({ session_ids: [session.id] })).expect(201);
    expect(ticket.body.ticket).toEqual(expect.any(String));
    await ctx.http().post(live).set('x-api-key', API_KEY).expect(201);
  });

  it('refuses NUL characters and lone surrogates in API bodies and queries (400 invalid_text), changing nothing', async () => {
    const session = await createSession(ctx.hub, { meetingId: 81234567006 });
    const base = { platform: 'zoom', meeting_id: '81234567007' };
    const nul = String.fromCharCode(0);
    const lone = String.fromCharCode(0xd800);
    const cases: Array<[string, () => ReturnType<ReturnType<typeof ctx.http>['get']>]> = [
      ['meeting_uuid NUL', () => ctx.http().post('/api/v1/sessions').send({ ...base, meeting_uuid: `a${nul}b` })],
      ['metadata value NUL', () => ctx.http().post('/api/v1/sessions').send({ ...base, metadata: { a: `x${nul}y` } })],
      ['metadata key NUL', () => ctx.http().post('/api/v1/sessions').send({ ...base, metadata: { [`a${nul}`]: 1 } })],
      ['metadata lone surrogate', () => ctx.http().post('/api/v1/sessions').send({ ...base, metadata: { a: lone } })],
      ['include_user_ids NUL', () => ctx.http().post('/api/v1/sessions').send({ ...base, capture_policy: { include_user_ids: [`a${nul}`] } })],
      ['hold reason NUL', () => ctx.http().post(`/api/v1/sessions/${session.id}/hold`).send({ reason: `r${nul}` })],
      ['query NUL', () => ctx.http().get('/api/v1/oauth/zoom/connections?app_user_id=%00')],
    ];
    for (const [what, send] of cases) {
      const res = await send().set('x-api-key', API_KEY);
      expect({ what, status: res.status, error: res.body.error }).toEqual({ what, status: 400, error: 'invalid_text' });
    }
    expect((await ctx.http().get('/api/v1/sessions?meeting_id=81234567007').set('x-api-key', API_KEY).expect(200)).body.data).toEqual([]);
    expect((await ctx.http().get(`/api/v1/sessions/${session.id}`).set('x-api-key', API_KEY).expect(200)).body.legal_hold).toBeNull();
    // Paired surrogates (an emoji) are fine.
    await ctx.http().post('/api/v1/sessions').set('x-api-key', API_KEY).send({ ...base, metadata: { a: '🎥' } }).expect(201);
  });

  it('refuses reserved keys (__proto__, constructor, prototype…) in metadata with 400 reserved_key naming them, instead of dropping them', async () => {
    const base = { platform: 'zoom', meeting_id: '81234567008' };
    for (const [raw, key, path] of [
      [`{"platform":"zoom","meeting_id":"81234567008","metadata":{"team":"a","__proto__":{"admin":true}}}`, '__proto__', 'metadata.__proto__'],
      [`{"platform":"zoom","meeting_id":"81234567008","metadata":{"constructor":1}}`, 'constructor', 'metadata.constructor'],
      [`{"platform":"zoom","meeting_id":"81234567008","metadata":{"a":{"prototype":1}}}`, 'prototype', 'metadata.a.prototype'],
    ]) {
      const res = await ctx.http().post('/api/v1/sessions').set('x-api-key', API_KEY).set('Content-Type', 'application/json').send(raw);
      expect({ path, status: res.status, body: res.body }).toMatchObject({ path, status: 400, body: { error: 'reserved_key', details: { in: 'body', key, path } } });
      expect(res.body.message).toContain(`"${key}"`);
    }
    expect((await ctx.http().get('/api/v1/sessions?meeting_id=81234567008').set('x-api-key', API_KEY).expect(200)).body.data).toEqual([]);
    const endpoint = await insertWebhookEndpoint(ctx.hub.app, 'https://receiver.example.test/hook');
    try {
      const res = await ctx.http().patch(`/api/v1/webhook-endpoints/${endpoint.id}`).set('x-api-key', API_KEY).set('Content-Type', 'application/json').send('{"metadata":{"constructor":"x","team":"b"}}');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'reserved_key', details: { key: 'constructor', path: 'metadata.constructor' } });
      expect((await ctx.http().get(`/api/v1/webhook-endpoints/${endpoint.id}`).set('x-api-key', API_KEY).expect(200)).body.metadata).toEqual({});
    } finally {
      await query(ctx.hub.app, 'DELETE FROM webhook_endpoints WHERE id = $1', [endpoint.id]);
    }
    // The same names as values, or as near misses, are plain data.
    const ok = await ctx.http().post('/api/v1/sessions').set('x-api-key', API_KEY).send({ ...base, metadata: { note: 'constructor', proto: 1 } }).expect(201);
    expect(ok.body.metadata).toEqual({ note: 'constructor', proto: 1 });
  });

  it('answers a body that is not what its Content-Encoding says with 400 malformed_compressed_body, changing nothing', async () => {
    const body = Buffer.from(JSON.stringify({ platform: 'zoom', meeting_id: '81234567009' }));
    const send = (encoding: string, bytes: Buffer) =>
      ctx.http().post('/api/v1/sessions').set('x-api-key', API_KEY).set('Content-Type', 'application/json').set('Content-Encoding', encoding).send(bytes).serialize((b: unknown) => b as string);
    const res = await send('gzip', body);
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 400, body: { error: 'malformed_compressed_body', message: 'Request body is not valid gzip data (Content-Encoding: gzip)' } });
    expect((await send('compress', body)).status).toBe(415);
    expect((await ctx.http().get('/api/v1/sessions?meeting_id=81234567009').set('x-api-key', API_KEY).expect(200)).body.data).toEqual([]);
    expect((await send('gzip', gzipSync(body))).status).toBe(201);
  });

  it('downloads an artifact whose name is not Latin-1 (ASCII filename + filename*=UTF-8)', async () => {
    const session = await createSession(ctx.hub, { meetingId: 81234567003 });
    const name = '会议-Zoë.jpg';
    const key = `${session.id}/${randomUUID()}/${name}`;
    const bytes = Buffer.from('not really a jpeg');
    await ctx.hub.app.get<MediaStorage>(MEDIA_STORAGE, { strict: false }).put(key, bytes, 'image/jpeg');
    const [artifact] = await query<{ id: string }>(
      ctx.hub.app,
      `INSERT INTO media_artifacts (session_id, rtms_stream_id, kind, user_id, storage_key, content_type, bytes, sha256, captured_at)
       VALUES ($1, 'stream-http-hardening', 'video_frame', 'u1', $2, 'image/jpeg', $3, repeat('0', 64), now()) RETURNING id`,
      [session.id, key, bytes.length],
    );
    const res = await ctx.http().get(`/api/v1/artifacts/${artifact.id}/content`).set('x-api-key', API_KEY).expect(200);
    expect(res.headers['content-disposition']).toBe(`inline; filename="__-Zo_.jpg"; filename*=UTF-8''${encodeURIComponent(name)}`);
    expect(Buffer.isBuffer(res.body) && res.body.equals(bytes)).toBe(true);
  });

  describe('Bull Board state changes', () => {
    const queueOf = (app: TestApp): Queue => {
      const q = app.producer.allQueues().find((x) => x.name === QueueName.ZoomRooms);
      if (!q) throw new Error('no zoom-rooms queue');
      return q;
    };
    const total = async (app: TestApp) => Object.values(await queueOf(app).getJobCounts()).reduce((a, b) => a + b, 0);
    const addUrl = `/admin/queues/api/queues/${QueueName.ZoomRooms}/add`;

    it('refuses a cross-site form post (valid Basic auth replayed by the browser) and adds nothing', async () => {
      const before = await total(ctx.hub);
      const form = await ctx
        .http()
        .post(addUrl)
        .set('Authorization', ADMIN_AUTH)
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .send('name=room.join&data=%7B%7D')
        .expect(403);
      expect(form.body).toMatchObject({ error: 'cross_site_request_refused' });
      // text/plain (a form's other enctype, or a no-cors fetch) carrying JSON is refused too.
      await ctx.http().post(addUrl).set('Authorization', ADMIN_AUTH).set('Content-Type', 'text/plain').send('{"name":"room.join","data":{}}').expect(403);
      // JSON, but the browser says it comes from another site.
      await ctx.http().post(addUrl).set('Authorization', ADMIN_AUTH).set('Sec-Fetch-Site', 'cross-site').send({ name: 'room.join', data: {} }).expect(403);
      expect(await total(ctx.hub)).toBe(before);
    });

    it('accepts the requests Bull Board UI makes (JSON POST, PUT without a body)', async () => {
      const before = await total(ctx.hub);
      const added = await ctx
        .http()
        .post(addUrl)
        .set('Authorization', ADMIN_AUTH)
        .set('Content-Type', 'application/json')
        .set('Sec-Fetch-Site', 'same-origin')
        .send({ name: 'bull-board-ui-check', data: { dispatchId: 'none' }, options: { delay: 3_600_000 } })
        .expect(200);
      expect(added.body.job).toMatchObject({ name: 'bull-board-ui-check' });
      expect(await total(ctx.hub)).toBe(before + 1);
      await ctx.http().put(`/admin/queues/api/queues/${QueueName.ZoomRooms}/pause`).set('Authorization', ADMIN_AUTH).expect(200);
      expect(await queueOf(ctx.hub).isPaused()).toBe(true);
      await ctx.http().put(`/admin/queues/api/queues/${QueueName.ZoomRooms}/resume`).set('Authorization', ADMIN_AUTH).expect(200);
      expect(await queueOf(ctx.hub).isPaused()).toBe(false);
      await queueOf(ctx.hub).obliterate({ force: true });
    });

    it('with BULL_BOARD_READ_ONLY=true shows the queues but refuses every change', async () => {
      const ro = await ctx.startApp({ api: true }, { ...ctx.env, BULL_BOARD_READ_ONLY: 'true' });
      const http = () => request(ro.app.getHttpServer());
      const before = await total(ro);
      const list = await http().get('/admin/queues/api/queues').set('Authorization', ADMIN_AUTH).expect(200);
      expect((list.body.queues as Array<{ readOnlyMode: boolean }>).every((q) => q.readOnlyMode)).toBe(true);
      const add = await http().post(addUrl).set('Authorization', ADMIN_AUTH).send({ name: 'x', data: {} }).expect(403);
      expect(add.body).toMatchObject({ error: 'admin_read_only' });
      await http().put(`/admin/queues/api/queues/${QueueName.ZoomRooms}/pause`).set('Authorization', ADMIN_AUTH).expect(403);
      expect(await queueOf(ro).isPaused()).toBe(false);
      expect(await total(ro)).toBe(before);
      // Credentials still come first.
      await http().put(`/admin/queues/api/queues/${QueueName.ZoomRooms}/pause`).expect(401);
    });
  });
});
