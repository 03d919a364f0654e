import { TcpFaultProxy } from '../bench/tcp-fault-proxy';
import { QueueName } from '../src/jobs/queue-names';
import { useE2eContext } from './utils/e2e-context';
import { streamOwnership } from './utils/stream-ownership';
import type { EntrypointProcess } from './utils/processes';
import { waitFor } from './utils/wait-for';

jest.setTimeout(180_000);

/**
 * Issue 17: the holder of a stream whose Redis goes away cannot renew its lease (the job
 * lock). It must close its Zoom sockets before the lock expires, because once it has, a
 * standby takes the job and connects: two live connections for one stream otherwise.
 * Worker A reaches Redis through a TcpFaultProxy that the test cuts (A alone sees the
 * outage); worker B reaches it directly and takes the stream over.
 */
describe('Media ingest: a holder that cannot renew its lease closes its sockets before another worker connects', () => {
  const ctx = useE2eContext({
    simulator: { keepAliveIntervalMs: 500, videoScale: 0.25 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents], explicit: true } },
  });
  const redisUrl = new URL(process.env.REDIS_URL as string);
  let proxy: TcpFaultProxy;

  const spawnWorker = async (env: Record<string, string> = {}): Promise<EntrypointProcess> => {
    const w = ctx.spawnWorker({ WORKER_QUEUES: QueueName.RtmsStreams, RTMS_RECONNECT_BASE_MS: '100', RTMS_RECONNECT_MAX_MS: '500', ...env });
    await waitFor(() => w.output().includes('Consuming rtms-streams'), { timeoutMs: 90_000, intervalMs: 200, what: `worker ${w.pid} ready` }).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${w.output().slice(-3000)}`);
    });
    return w;
  };
  const { owner, ownerPid, liveConnected, handshakesOk } = streamOwnership(ctx);

  beforeAll(async () => {
    proxy = await new TcpFaultProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) }).start();
  });

  afterAll(async () => {
    proxy?.restore();
    await proxy?.stop();
  });

  it('Redis cut for the holder only: it fences itself, the other worker takes over, never two live connections', async () => {
    const proxied = new URL(redisUrl.toString());
    proxied.port = String(proxy.port);
    const a = await spawnWorker({ REDIS_URL: proxied.toString() });

    const meeting = ctx.sim.createMeeting({ participants: [{ userId: 1, name: 'Ann' }, { userId: 2, name: 'Bob' }] });
    const { streamId: id } = await ctx.sim.startRtms(meeting.id);
    await waitFor(async () => {
      const o = await owner(id);
      return o?.status === 'active' && ownerPid(o.owner_worker_id) === a.pid && liveConnected(id);
    }, { timeoutMs: 30_000, what: 'stream connected by worker A' });
    const b = await spawnWorker();

    const mediaBefore = handshakesOk(id);
    proxy.cut();
    await waitFor(async () => {
      const o = await owner(id);
      return o?.status === 'active' && ownerPid(o.owner_worker_id) === b.pid && handshakesOk(id) > mediaBefore && liveConnected(id);
    }, { timeoutMs: 60_000, intervalMs: 50, what: 'worker B took the stream over' }).catch((err: unknown) => {
      throw new Error(`${String(err)}\nworker A:\n${a.output().slice(-3000)}`);
    });

    const rec = ctx.sim.record(id);
    expect({ maxLiveSignaling: rec.maxLiveSignaling, maxLiveMedia: rec.maxLiveMedia }).toEqual({ maxLiveSignaling: 1, maxLiveMedia: 1 });
    // A closed its sockets because it could not confirm a renewal, not because Zoom kicked it.
    expect(a.output()).toContain('lease not renewed in time');

    proxy.restore();
    await ctx.sim.stopRtms(id, 6);
    await waitFor(async () => (await owner(id)).status === 'stopped', { what: 'stopped' });
  });
});
