import http from 'node:http';
import request from 'supertest';
import WebSocket from 'ws';
import { createSession } from './factories/session.factory';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY } from './utils/test-app';
import { waitFor } from './utils/wait-for';

/**
 * Live connections opened with the session console's cookie end with the login: the
 * live API re-checks it every LIVE_PING_INTERVAL_SEC (short here) and closes the
 * WebSocket with 4401 and ends the SSE stream once it is signed out.
 */
describe('live connections opened with the console login', () => {
  const ctx = useE2eContext({ hub: { api: true }, env: () => ({ LIVE_PING_INTERVAL_SEC: '0.3' }) });
  const client = () => request(ctx.hub.app.getHttpServer());
  let sessionId: string;

  beforeAll(async () => {
    sessionId = (await createSession(ctx.hub, { meetingId: '81234567891' })).id;
  });

  async function login(): Promise<{ cookie: string; csrf: string }> {
    const res = await client().post('/console/login').type('form').send({ username: 'admin', password: 'test-admin-password', next: '/console' }).expect(303);
    const cookie = String(([] as string[]).concat(res.headers['set-cookie'] ?? [])[0]).split(';')[0];
    const page = await client().get('/console').set('Cookie', cookie).expect(200);
    return { cookie, csrf: /<meta name="csrf-token" content="([^"]+)">/.exec(page.text)![1] };
  }

  function openWs(headers: Record<string, string>): Promise<{ ws: WebSocket; closed: () => number | null }> {
    const ws = new WebSocket(`${ctx.hub.baseUrl.replace('http', 'ws')}/api/v1/live`, { headers, origin: ctx.hub.baseUrl });
    let code: number | null = null;
    ws.on('close', (c) => (code = c));
    ws.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve({ ws, closed: () => code }));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  function openSse(cookie: string): Promise<{ res: http.IncomingMessage; ended: () => boolean }> {
    const url = new URL(`${ctx.hub.baseUrl}/api/v1/sessions/${sessionId}/live?types=events`);
    return new Promise((resolve, reject) => {
      const req = http.get(url, { headers: { cookie, origin: ctx.hub.baseUrl } }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
        let ended = false;
        res.on('data', () => undefined);
        res.on('end', () => (ended = true));
        res.on('close', () => (ended = true));
        resolve({ res, ended: () => ended });
      });
      req.on('error', reject);
    });
  }

  it('closes the WebSocket (4401) and ends the SSE stream once the login is signed out; an API key connection stays', async () => {
    const { cookie, csrf } = await login();
    const ws = await openWs({ Cookie: cookie });
    const sse = await openSse(cookie);
    const keyed = await openWs({ 'x-api-key': API_KEY });
    // Several re-checks pass while the login holds.
    await new Promise((r) => setTimeout(r, 1000));
    expect([ws.closed(), sse.ended(), keyed.closed()]).toEqual([null, false, null]);

    await client().post('/console/logout').set('Cookie', cookie).type('form').send({ csrf }).expect(303);
    await waitFor(() => ws.closed() === 4401, { what: 'the WebSocket closed with 4401', timeoutMs: 5000 });
    await waitFor(() => sse.ended(), { what: 'the SSE stream ended', timeoutMs: 5000 });
    // Its reconnect is refused: the login is gone.
    await expect(openSse(cookie)).rejects.toThrow('HTTP 401');
    expect(keyed.closed()).toBeNull();
    keyed.ws.close();
    sse.res.destroy();
  });
});
