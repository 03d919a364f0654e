import WebSocket from 'ws';
import { ZoomSimulator } from './index';

function open(url: string): Promise<{ ws: WebSocket; msgs: Array<Record<string, unknown>>; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const msgs: Array<Record<string, unknown>> = [];
    const closed = new Promise<number>((r) => ws.on('close', (code: number) => r(code)));
    ws.on('message', (d: WebSocket.RawData) => msgs.push(JSON.parse(d.toString()) as Record<string, unknown>));
    ws.once('open', () => resolve({ ws, msgs, closed }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

describe('event WebSocket (issue 9)', () => {
  let sim: ZoomSimulator;
  let token: string;
  beforeAll(async () => {
    sim = await ZoomSimulator.start({ generalApp: { clientId: 'gen_app', clientSecret: 'gen_secret' }, eventSubscriptionId: 'sub-1', webhookUrl: null });
    const r = await fetch(`${sim.oauthBaseUrl}/oauth/token?grant_type=client_credentials`, { method: 'POST', headers: { authorization: 'Basic ' + Buffer.from('gen_app:gen_secret').toString('base64') } });
    token = ((await r.json()) as { access_token: string }).access_token;
  });
  afterAll(() => sim.stop());

  it('checks the token and the subscription id', async () => {
    await expect(open(`${sim.eventWsUrl}?subscriptionId=sub-1&access_token=bad`)).rejects.toThrow('HTTP 401');
    await expect(open(`${sim.eventWsUrl}?subscriptionId=other&access_token=${token}`)).rejects.toThrow('HTTP 404');
    expect(sim.eventWsStats.connectionsRejected.map((r) => r.status)).toEqual([401, 404]);
  });

  it('answers heartbeats, delivers events (webhooks off); like Zoom, an event sent while nobody is connected is not replayed', async () => {
    const c = await open(`${sim.eventWsUrl}?subscriptionId=sub-1&access_token=${token}`);
    c.ws.send(JSON.stringify({ module: 'heartbeat' }));
    await sim.waitFor(() => c.msgs.find((m) => m.module === 'heartbeat'));
    expect(sim.eventWsStats.live).toBe(1);
    const m = sim.createMeeting();
    const st = await sim.startRtms(m.id);
    const msg = await sim.waitFor(() => c.msgs.find((x) => x.module === 'message'));
    const ev = JSON.parse(String(msg.content)) as { event: string; payload: Record<string, unknown> };
    expect(ev.event).toBe('meeting.rtms_started');
    expect(ev.payload.rtms_stream_id).toBe(st.streamId);
    expect(sim.webhookLog).toHaveLength(0);
    // drop: an event sent while nobody is connected is gone; the next connection gets only later ones
    expect(sim.faults.dropEventWs()).toBe(1);
    expect(await c.closed).toBe(1001);
    await sim.stopRtms(st.streamId);
    const c2 = await open(`${sim.eventWsUrl}?subscriptionId=sub-1&access_token=${token}`);
    const st2 = await sim.startRtms(sim.createMeeting().id);
    const next = await sim.waitFor(() => c2.msgs.find((x) => x.module === 'message'));
    expect(JSON.parse(String(next.content)).payload.rtms_stream_id).toBe(st2.streamId);
    expect(c2.msgs.filter((x) => x.module === 'message')).toHaveLength(1);
    expect(sim.eventWsStats.maxLive).toBe(1);
    c2.ws.close();
    await c2.closed;
  });
});
