import { ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { QueueName } from '../src/jobs/queue-names';
import { ZoomSimulator } from '../src/simulator';
import { query } from './utils/db';
import { obliterateQueues, startTestApp, TestApp } from './utils/test-app';
import { waitFor } from './utils/wait-for';

jest.setTimeout(180_000);

/**
 * Three real worker processes consume rtms-streams. The one holding a stream is
 * SIGKILLed (another must take over in < 15 s), then the new holder gets SIGTERM (it
 * must hand the stream over within 5 s).
 */
interface Worker {
  child: ChildProcess;
  pid: number;
  log: string;
  ready: boolean;
}

describe('Media ingest: stream takeover between worker processes', () => {
  let sim: ZoomSimulator;
  let api: TestApp;
  const workers: Worker[] = [];

  function spawnWorker(): Worker {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.worker.ts'], {
      cwd: resolve(__dirname, '..'),
      env: {
        ...process.env,
        WORKER_QUEUES: QueueName.RtmsStreams,
        PORT: '0',
        LOG_LEVEL: 'info',
        TS_NODE_TRANSPILE_ONLY: 'true',
        ZOOM_API_BASE_URL: sim.apiBaseUrl,
        ZOOM_OAUTH_BASE_URL: sim.oauthBaseUrl,
        RTMS_RECONNECT_BASE_MS: '100',
        RTMS_RECONNECT_MAX_MS: '500',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const w: Worker = { child, pid: child.pid as number, log: '', ready: false };
    const onData = (d: Buffer) => {
      w.log += d.toString();
      if (w.log.length > 200_000) w.log = w.log.slice(-100_000);
      if (!w.ready && w.log.includes('Consuming rtms-streams')) w.ready = true;
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    workers.push(w);
    return w;
  }

  async function stop(w: Worker, signal: NodeJS.Signals): Promise<number | null> {
    if (w.child.exitCode !== null || w.child.signalCode !== null) return w.child.exitCode;
    const exited = new Promise<number | null>((r) => w.child.once('exit', (code) => r(code)));
    w.child.kill(signal);
    return exited;
  }

  beforeAll(async () => {
    sim = await ZoomSimulator.start({
      clientId: 'test_client_id',
      clientSecret: 'test_client_secret',
      webhookSecretToken: 'test_webhook_secret_token',
      keepAliveIntervalMs: 500,
      videoScale: 0.25,
    });
    // API + the zoom-events worker in this process; the stream workers are children.
    api = await startTestApp({ api: true, worker: { queues: [QueueName.ZoomEvents], explicit: true } }, { ZOOM_API_BASE_URL: sim.apiBaseUrl, ZOOM_OAUTH_BASE_URL: sim.oauthBaseUrl });
    sim.setWebhookTarget(`${api.baseUrl}/api/v1/webhooks/zoom`);
    for (let i = 0; i < 3; i++) spawnWorker();
    try {
      await waitFor(() => workers.every((w) => w.ready), { timeoutMs: 90_000, intervalMs: 200, what: 'three stream workers ready' });
    } catch (err) {
      throw new Error(`${String(err)}\n${workers.map((w) => w.log.slice(-2000)).join('\n----\n')}`);
    }
  });

  afterAll(async () => {
    for (const w of workers) await stop(w, 'SIGKILL');
    await sim?.stop();
    if (api) await obliterateQueues(api.producer);
    await api?.close();
  });

  const owner = async (id: string) =>
    (await query<{ owner_worker_id: string | null; status: string }>(api.app, `SELECT owner_worker_id, status FROM rtms_streams WHERE rtms_stream_id = $1`, [id]))[0];
  const ownerPid = (workerId: string | null | undefined) => (workerId ? Number(workerId.split(':')[1]) : null);
  const liveConnected = (id: string) => {
    const r = sim.record(id);
    return r.live.signaling === 1 && Object.values(r.live.media).reduce((a, b) => a + b, 0) === 1;
  };
  const handshakesOk = (id: string) => sim.record(id).handshakes.filter((h) => h.socket === 'media' && h.statusCode === 0).length;

  it('SIGKILL: another worker reconnects the stream in < 15 s; SIGTERM: the stream is handed over within 5 s', async () => {
    const meeting = sim.createMeeting({ participants: [{ userId: 1, name: 'Ann' }, { userId: 2, name: 'Bob' }] });
    const { streamId: id } = await sim.startRtms(meeting.id);
    const first = await waitFor(async () => {
      const o = await owner(id);
      return o?.status === 'active' && liveConnected(id) ? o : undefined;
    }, { timeoutMs: 20_000, what: 'stream connected by a worker' });
    const victim = workers.find((w) => w.pid === ownerPid(first.owner_worker_id))!;
    expect(victim).toBeDefined();

    // ── SIGKILL the holder ──
    const mediaBefore = handshakesOk(id);
    const killedAt = Date.now();
    await stop(victim, 'SIGKILL');
    const second = await waitFor(async () => {
      const o = await owner(id);
      return o?.status === 'active' && ownerPid(o.owner_worker_id) !== victim.pid && handshakesOk(id) > mediaBefore && liveConnected(id) ? o : undefined;
    }, { timeoutMs: 20_000, intervalMs: 50, what: 'takeover after SIGKILL' });
    const takeoverMs = Date.now() - killedAt;
    const heir = workers.find((w) => w.pid === ownerPid(second.owner_worker_id))!;
    expect(heir).toBeDefined();

    // ── SIGTERM the new holder ──
    const mediaBefore2 = handshakesOk(id);
    const termAt = Date.now();
    const exit = stop(heir, 'SIGTERM');
    const third = await waitFor(async () => {
      const o = await owner(id);
      return o?.status === 'active' && ownerPid(o.owner_worker_id) !== heir.pid && ownerPid(o.owner_worker_id) !== victim.pid && handshakesOk(id) > mediaBefore2 && liveConnected(id) ? o : undefined;
    }, { timeoutMs: 15_000, intervalMs: 50, what: 'hand-over after SIGTERM' });
    const handoverMs = Date.now() - termAt;
    expect(await exit).toBe(0);

    console.log(`stream takeover after SIGKILL: ${takeoverMs} ms; hand-over after SIGTERM: ${handoverMs} ms`);
    expect(takeoverMs).toBeLessThan(15_000);
    expect(handoverMs).toBeLessThan(5_000);
    expect(third.owner_worker_id).toBeTruthy();

    // One connection at a time throughout, and the takeovers are counted on the row.
    const rec = sim.record(id);
    expect(rec.maxLiveSignaling).toBe(1);
    expect(rec.maxLiveMedia).toBe(1);
    const [row] = await query<{ reconnect_counts: Record<string, number> }>(api.app, `SELECT reconnect_counts FROM rtms_streams WHERE rtms_stream_id = $1`, [id]);
    expect(row.reconnect_counts.takeover).toBeGreaterThanOrEqual(2);

    await sim.stopRtms(id, 6);
    await waitFor(async () => (await owner(id)).status === 'stopped', { what: 'stopped' });
  });
});
