import { createHmac, timingSafeEqual } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { ZoomSimulator } from './index';

const secret = 'rest_test_webhook_secret';
const app = { clientId: 'rest_app', clientSecret: 'rest_secret' };

interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: { event: string; event_ts: number; payload: Record<string, unknown> };
  at: number;
}

/** A webhook receiver written from the spec: verifies x-zm-signature over the raw body. */
class Receiver {
  readonly got: Received[] = [];
  answer: (r: Received) => number = () => 200;
  /** The secret url_validation answers are computed with (a wrong one = a receiver that fails validation). */
  validationSecret = secret;
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const r: Received = { headers: req.headers, raw, body: JSON.parse(raw) as Received['body'], at: Date.now() };
      this.got.push(r);
      if (r.body.event === 'endpoint.url_validation') {
        const plainToken = String(r.body.payload.plainToken);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ plainToken, encryptedToken: createHmac('sha256', this.validationSecret).update(plainToken).digest('hex') }));
        return;
      }
      res.writeHead(this.answer(r));
      res.end();
    });
  });
  url = '';
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhooks/zoom`;
    return this;
  }
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
  static verify(r: Received): boolean {
    const ts = String(r.headers['x-zm-request-timestamp']);
    const expected = 'v0=' + createHmac('sha256', secret).update(`v0:${ts}:${r.raw}`).digest('hex');
    const got = String(r.headers['x-zm-signature']);
    return got.length === expected.length && timingSafeEqual(Buffer.from(got), Buffer.from(expected)) && Math.abs(Date.now() / 1000 - Number(ts)) < 300;
  }
}

describe('webhooks out + REST', () => {
  let sim: ZoomSimulator;
  let rx: Receiver;
  let userToken: string;
  let s2sToken: string;

  beforeAll(async () => {
    rx = await new Receiver().start();
    sim = await ZoomSimulator.start({ ...app, webhookSecretToken: secret, webhookUrl: rx.url, webhookRetryDelaysMs: [100, 200, 300], webhookTimeoutMs: 300, roomsRateLimitPerSec: 0 });
    // user token through the code flow (no PKCE)
    const loc = (await fetch(`${sim.oauthBaseUrl}/oauth/authorize?response_type=code&client_id=${app.clientId}&redirect_uri=${encodeURIComponent('http://127.0.0.1/cb')}`, { redirect: 'manual' })).headers.get('location') as string;
    const code = new URL(loc).searchParams.get('code') as string;
    const auth = { authorization: 'Basic ' + Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' };
    userToken = ((await (await fetch(`${sim.oauthBaseUrl}/oauth/token`, { method: 'POST', headers: auth, body: `grant_type=authorization_code&code=${code}&redirect_uri=${encodeURIComponent('http://127.0.0.1/cb')}` })).json()) as { access_token: string }).access_token;
    const s2s = sim.options.s2s;
    s2sToken = ((await (await fetch(`${sim.oauthBaseUrl}/oauth/token?grant_type=account_credentials&account_id=${s2s.accountId}`, { method: 'POST', headers: { authorization: 'Basic ' + Buffer.from(`${s2s.clientId}:${s2s.clientSecret}`).toString('base64') } })).json()) as { access_token: string }).access_token;
  });
  afterAll(async () => {
    await sim.stop();
    await rx.stop();
  });

  const status = (meetingId: number | string, body: unknown, token = userToken) =>
    fetch(`${sim.apiBaseUrl}/live_meetings/${meetingId}/rtms_app/status`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('url validation challenge is answered and checked', async () => {
    const r = await sim.validateUrl('qgg8vlvZRS6UYooatFL8Aw');
    expect(r.ok).toBe(true);
  });

  it('sends url_validation on its own: at start, on every save, on the timer; records the outcome; keeps sending events after a failure', async () => {
    const rx2 = await new Receiver().start();
    const bad = await new Receiver().start();
    bad.validationSecret = 'not-the-secret';
    const auto = await ZoomSimulator.start({ ...app, webhookSecretToken: secret, webhookUrl: rx2.url, urlValidationIntervalMs: 300, webhookRetryDelaysMs: [] });
    const validations = (r: Receiver) => r.got.filter((x) => x.body.event === 'endpoint.url_validation');
    try {
      // At start (the configured URL counts as saved), signed like every webhook.
      await auto.waitFor(() => auto.urlValidation.validated === true, 3000);
      expect(validations(rx2)).toHaveLength(1);
      expect(Receiver.verify(validations(rx2)[0])).toBe(true);
      expect(auto.webhookLog).toEqual([expect.objectContaining({ event: 'endpoint.url_validation', url: rx2.url, status: 200, validated: true })]);
      // Again on the timer, each with a fresh plainToken.
      await auto.waitFor(() => validations(rx2).length >= 3, 3000);
      const tokens = validations(rx2).map((x) => x.body.payload.plainToken);
      expect(new Set(tokens).size).toBe(tokens.length);
      const ctl = (path: string, body?: unknown) =>
        fetch(`${auto.httpBaseUrl}${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json() as Promise<Record<string, unknown>>);
      expect(await ctl('/_sim/url-validation')).toMatchObject({ url: rx2.url, automatic: true, intervalMs: 300, validated: true, consecutiveFailures: 0 });

      // Saving a URL that answers wrongly: validated at once, marked not valid, events still delivered there.
      const saved = await ctl('/_sim/webhook-target', { url: bad.url });
      expect(saved.webhookTarget).toBe(bad.url);
      await auto.waitFor(() => auto.urlValidation.validated === false, 3000);
      expect(validations(bad).length).toBeGreaterThanOrEqual(1);
      const failed = auto.webhookLog.filter((w) => w.url === bad.url && w.event === 'endpoint.url_validation');
      expect(failed[0]).toMatchObject({ status: 200, validated: false });
      expect((await ctl('/_sim/state')).urlValidation).toMatchObject({ url: bad.url, validated: false, lastResult: { ok: false, status: 200 } });
      auto.sendWebhook('custom.after_failed_validation', { n: 1 });
      await auto.waitFor(() => bad.got.find((x) => x.body.event === 'custom.after_failed_validation'), 3000);
      // The old URL gets nothing more; webhooks off stops validating.
      const before = validations(rx2).length;
      await auto.waitFor(() => validations(bad).length >= 2, 3000);
      expect(validations(rx2)).toHaveLength(before);
      auto.setWebhookTarget(null);
      expect(auto.urlValidation).toMatchObject({ url: null, nextAt: null, validated: null });
    } finally {
      await auto.stop();
      await rx2.stop();
      await bad.stop();
    }
  });

  it('autoUrlValidation: false sends url_validation only on request', async () => {
    const rx3 = await new Receiver().start();
    const manual = await ZoomSimulator.start({ ...app, webhookSecretToken: secret, webhookUrl: rx3.url, autoUrlValidation: false, urlValidationIntervalMs: 50 });
    try {
      manual.sendWebhook('custom.marker', {});
      await manual.waitFor(() => rx3.got.find((x) => x.body.event === 'custom.marker'), 3000);
      manual.setWebhookTarget(rx3.url);
      manual.sendWebhook('custom.marker2', {});
      await manual.waitFor(() => rx3.got.find((x) => x.body.event === 'custom.marker2'), 3000);
      expect(rx3.got.map((x) => x.body.event)).toEqual(['custom.marker', 'custom.marker2']);
      expect((await manual.validateUrl()).ok).toBe(true);
      expect(manual.urlValidation).toMatchObject({ automatic: false, validated: true, attempts: 1, nextAt: null });
    } finally {
      await manual.stop();
      await rx3.stop();
    }
  });

  it('REST start → signed flat meeting.rtms_started; pause/resume; stop → rtms_stopped 25', async () => {
    const m = sim.createMeeting();
    const n = rx.got.length;
    const r = await status(m.id, { action: 'start', settings: { client_id: app.clientId } });
    expect(r.status).toBe(202);
    const started = await sim.waitFor(() => rx.got.slice(n).find((x) => x.body.event === 'meeting.rtms_started'));
    expect(Receiver.verify(started)).toBe(true);
    expect(started.body.payload).toMatchObject({ meeting_uuid: m.uuid, meeting_id: m.id, operator_id: 'sim_user_host_1', account_id: sim.options.s2s.accountId, server_urls: sim.signalingUrl });
    expect(started.body.payload.rtms_stream_id).toMatch(/^[0-9a-f]{32}$/);
    expect(Object.keys(started.body)).toEqual(['event', 'payload', 'event_ts']);
    const sid = String(started.body.payload.rtms_stream_id);
    expect((await status(m.id, { action: 'pause', settings: { client_id: app.clientId } })).status).toBe(202);
    expect(sim.stream(sid)?.paused).toBe(true);
    expect((await status(m.id, { action: 'resume', settings: { client_id: app.clientId } })).status).toBe(202);
    expect((await status(m.id, { action: 'stop', settings: { client_id: app.clientId } }, s2sToken)).status).toBe(202);
    const stopped = await sim.waitFor(() => rx.got.find((x) => x.body.event === 'meeting.rtms_stopped' && x.body.payload.rtms_stream_id === sid));
    expect(stopped.body.payload).toEqual({ meeting_uuid: m.uuid, rtms_stream_id: sid, stop_reason: 25 });
    expect(Receiver.verify(stopped)).toBe(true);
  });

  it('REST errors: bad token 401, unknown meeting 404, wrong client_id / bad action 400, forced 2308/2310', async () => {
    const m = sim.createMeeting();
    const bad = await status(m.id, { action: 'start', settings: { client_id: app.clientId } }, 'nope');
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ code: 124, message: 'Invalid access token.' });
    const missing = await status(123, { action: 'start', settings: { client_id: app.clientId } });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: number }).code).toBe(3001);
    expect((await status(m.id, { action: 'start', settings: { client_id: 'other' } })).status).toBe(400);
    expect((await status(m.id, { action: 'go', settings: { client_id: app.clientId } })).status).toBe(400);
    sim.faults.rtmsControlError(m.id, { code: 2310 });
    const r = await status(m.id, { action: 'start', settings: { client_id: app.clientId } });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { code: number }).code).toBe(2310);
    const notHost = sim.createMeeting({ hostUserId: 'someone_else' });
    const r2 = await status(notHost.id, { action: 'start', settings: { client_id: app.clientId } });
    expect(((await r2.json()) as { code: number }).code).toBe(2308);
  });

  it('rtms_app/status takes the numeric meeting ID only (rtms-protocol.md §5): the UUID, even URL-encoded, is 404 3001', async () => {
    const m = sim.createMeeting({ uuid: 'aB3x+YZ12345678901234==' });
    const slashed = sim.createMeeting({ uuid: 'cD4/y+WZ12345678901234==' });
    const n = sim.streamsOf(m.id).length;
    for (const id of [m.uuid, encodeURIComponent(m.uuid), encodeURIComponent(slashed.uuid), encodeURIComponent(encodeURIComponent(slashed.uuid))]) {
      const r = await status(id, { action: 'start', settings: { client_id: app.clientId } });
      expect(r.status).toBe(404);
      expect(((await r.json()) as { code: number }).code).toBe(3001);
    }
    expect(sim.streamsOf(m.id)).toHaveLength(n);
    expect(sim.streamsOf(slashed.id)).toHaveLength(0);
    expect((await status(String(m.id), { action: 'start', settings: { client_id: app.clientId } })).status).toBe(202);
    await sim.waitFor(() => sim.streamsOf(m.id).length === n + 1);
    await sim.stopRtms(sim.streamsOf(m.id)[n].streamId);
  });

  it('Zoom Rooms answer a user or client_credentials token as Zoom answers a token without the room scopes (400 4711)', async () => {
    sim.addRoom({ id: 'scoped', name: 'Scoped Room', status: 'Available' });
    const m = sim.createMeeting({ passcode: 'pw' });
    try {
      const cc = ((await (await fetch(`${sim.oauthBaseUrl}/oauth/token?grant_type=client_credentials`, { method: 'POST', headers: { authorization: 'Basic ' + Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64') } })).json()) as { access_token: string }).access_token;
      for (const token of [userToken, cc]) {
        const list = await fetch(`${sim.apiBaseUrl}/rooms`, { headers: { authorization: `Bearer ${token}` } });
        expect(list.status).toBe(400);
        expect(await list.json()).toEqual({ code: 4711, message: 'Invalid access token, does not contain scopes:[room:read:admin].' });
        const join = await fetch(`${sim.apiBaseUrl}/rooms/scoped/events`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ method: 'zoomroom.meeting_join', params: { meeting_number: String(m.id), passcode: 'pw' } }) });
        expect(join.status).toBe(400);
        expect(await join.json()).toEqual({ code: 4711, message: 'Invalid access token, does not contain scopes:[room:write:admin].' });
      }
      expect(sim.rooms.get('scoped')?.status).toBe('Available');
      expect((await fetch(`${sim.apiBaseUrl}/rooms`, { headers: { authorization: `Bearer ${s2sToken}` } })).status).toBe(200);
    } finally {
      sim.rooms.delete('scoped');
    }
  });

  it('429 with Retry-After and 5xx for the next N matching calls; slow responses', async () => {
    const m = sim.createMeeting();
    sim.faults.rest429('/rtms_app/status', 1, 2);
    sim.faults.rest5xx('/rtms_app/status', 1, 503);
    const a = await status(m.id, { action: 'start', settings: { client_id: app.clientId } });
    expect(a.status).toBe(429);
    expect(a.headers.get('retry-after')).toBe('2');
    expect((await status(m.id, { action: 'start', settings: { client_id: app.clientId } })).status).toBe(503);
    sim.faults.slowRest({ match: '/users/me', delayMs: 200 });
    const t0 = Date.now();
    expect((await fetch(`${sim.apiBaseUrl}/users/me`, { headers: { authorization: `Bearer ${userToken}` } })).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect((await status(m.id, { action: 'start', settings: { client_id: app.clientId } })).status).toBe(202);
    expect(sim.restLog.filter((c) => c.path.endsWith('/rtms_app/status') && c.status === 429)).toHaveLength(1);
  });

  it('retries a webhook the receiver answers 500 (Zoom schedule, shortened); duplicate and late webhooks', async () => {
    let fails = 2;
    rx.answer = (r) => (r.body.event === 'custom.retry' && fails-- > 0 ? 500 : 200);
    const body = sim.sendWebhook('custom.retry', { x: 1 });
    // The delivery log is written when the receiver's answer arrives, after it saw the body.
    await sim.waitFor(() => sim.webhookLog.filter((w) => w.event === 'custom.retry').length === 3, 5000);
    const attempts = sim.webhookLog.filter((w) => w.event === 'custom.retry');
    expect(attempts.map((a) => [a.attempt, a.status])).toEqual([[1, 500], [2, 500], [3, 200]]);
    expect(new Set(rx.got.filter((r) => r.body.event === 'custom.retry').map((r) => r.raw))).toEqual(new Set([body]));
    rx.answer = () => 200;
    sim.faults.duplicateWebhooks(2, 1);
    sim.sendWebhook('custom.dup', {});
    await sim.waitFor(() => rx.got.filter((r) => r.body.event === 'custom.dup').length === 2);
    sim.faults.delayWebhooks(200, 1);
    const t0 = Date.now();
    sim.sendWebhook('custom.late', {});
    const late = await sim.waitFor(() => rx.got.find((r) => r.body.event === 'custom.late'), 3000);
    expect(late.at - t0).toBeGreaterThanOrEqual(190);
  });

  it('retries when the receiver does not answer within the timeout', async () => {
    let hang = true;
    const slow = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        // Saving the URL sends an endpoint.url_validation first: only the event under test hangs.
        if (hang && Buffer.concat(chunks).toString('utf8').includes('"custom.timeout"')) {
          hang = false;
          return; // never answer
        }
        res.writeHead(204);
        res.end();
      });
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    sim.setWebhookTarget(`http://127.0.0.1:${(slow.address() as AddressInfo).port}/`);
    try {
      sim.sendWebhook('custom.timeout', {});
      await sim.waitFor(() => sim.webhookLog.find((w) => w.event === 'custom.timeout' && w.status === 204), 3000);
      expect(sim.webhookLog.filter((w) => w.event === 'custom.timeout')[0]).toMatchObject({ attempt: 1, status: null, error: 'timeout' });
    } finally {
      sim.setWebhookTarget(rx.url);
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
    }
  });

  it('Zoom Rooms: list with status filter + paging, join/leave, offline and wrong passcode errors, rate limit', async () => {
    for (let i = 0; i < 5; i++) sim.addRoom({ id: `r${i}`, name: `Room ${i}`, status: i === 4 ? 'Offline' : 'Available' });
    const get = (q: string) => fetch(`${sim.apiBaseUrl}/rooms?${q}`, { headers: { authorization: `Bearer ${s2sToken}` } }).then((r) => r.json() as Promise<{ rooms: Array<{ id: string }>; next_page_token: string }>);
    const p1 = await get('status=available&page_size=3');
    expect(p1.rooms).toHaveLength(3);
    const p2 = await get(`status=available&page_size=3&next_page_token=${p1.next_page_token}`);
    expect(p2.rooms.map((r) => r.id)).toEqual(['r3']);
    expect(p2.next_page_token).toBe('');
    const m = sim.createMeeting({ passcode: 'pw1' });
    const ev = (id: string, body: unknown) => fetch(`${sim.apiBaseUrl}/rooms/${id}/events`, { method: 'PATCH', headers: { authorization: `Bearer ${s2sToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await ev('r4', { method: 'zoomroom.meeting_join', params: { meeting_number: String(m.id), passcode: 'pw1' } })).status).toBe(400);
    expect((await ev('r0', { method: 'zoomroom.meeting_join', params: { meeting_number: String(m.id), passcode: 'bad' } })).status).toBe(400);
    expect((await ev('nope', { method: 'zoomroom.meeting_join', params: { meeting_number: String(m.id), passcode: 'pw1' } })).status).toBe(404);
    expect((await ev('r0', { method: 'zoomroom.meeting_join', params: { meeting_number: String(m.id), passcode: 'pw1' } })).status).toBe(202);
    expect(sim.rooms.get('r0')?.status).toBe('InMeeting');
    expect(sim.meeting(m.id)?.participants.some((p) => p.name === 'Room 0' && p.roomId === 'r0')).toBe(true);
    expect((await ev('r0', { method: 'zoomroom.meeting_leave', params: {} })).status).toBe(202);
    expect(sim.rooms.get('r0')?.status).toBe('Available');
    // A meeting that ends takes its rooms out (Available again); one that ends by its scripted duration too.
    expect((await ev('r1', { method: 'zoomroom.meeting_join', params: { meeting_number: String(m.id), passcode: 'pw1' } })).status).toBe(202);
    sim.endMeeting(m.id);
    expect(sim.rooms.get('r1')).toMatchObject({ status: 'Available', meetingId: undefined });
    expect(sim.meeting(m.id)?.participants.find((p) => p.roomId === 'r1')?.leaveAtMs).toEqual(expect.any(Number));
    const timed = sim.createMeeting({ passcode: 'pw1', durationMs: 60_000 });
    expect((await ev('r2', { method: 'zoomroom.meeting_join', params: { meeting_number: String(timed.id), passcode: 'pw1' } })).status).toBe(202);
    sim.meeting(timed.id)!.ended = true; // as the media pump marks it when the duration runs out
    expect((await get('status=available&page_size=300')).rooms.map((r) => r.id)).toContain('r2');

    const limited = await ZoomSimulator.start({ roomsRateLimitPerSec: 2 });
    try {
      const s2s = limited.options.s2s;
      const tok = ((await (await fetch(`${limited.oauthBaseUrl}/oauth/token?grant_type=account_credentials&account_id=${s2s.accountId}`, { method: 'POST', headers: { authorization: 'Basic ' + Buffer.from(`${s2s.clientId}:${s2s.clientSecret}`).toString('base64') } })).json()) as { access_token: string }).access_token;
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await fetch(`${limited.apiBaseUrl}/rooms`, { headers: { authorization: `Bearer ${tok}` } })).status);
      expect(statuses).toContain(429);
    } finally {
      await limited.stop();
    }
  });

  it('webinar and Video SDK session variants carry their own id fields', async () => {
    const w = sim.createMeeting({ kind: 'webinar' });
    const ws = await sim.startRtms(w.id);
    const started = await sim.waitFor(() => rx.got.find((r) => r.body.event === 'webinar.rtms_started' && r.body.payload.rtms_stream_id === ws.streamId));
    expect(started.body.payload).toMatchObject({ webinar_uuid: w.uuid, webinar_id: w.id });
    const s = sim.createSession({ topic: 'sdk-session' });
    const ss = await sim.startRtms(s.id);
    const sst = await sim.waitFor(() => rx.got.find((r) => r.body.event === 'session.rtms_started' && r.body.payload.rtms_stream_id === ss.streamId));
    expect(sst.body.payload).toMatchObject({ session_id: s.uuid, session_key: 'sdk-session' });
    await sim.stopRtms(ws.streamId);
    await sim.stopRtms(ss.streamId);
  });
});
