import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { bullConnectionFor } from '../../common/redis/redis-factory';
import type { StoredZoomEventInput } from '../sessions';
import { ENQUEUE_TIMEOUT_MS, ZoomEventWriter } from './zoom-event-writer';

const input = (key: string) => ({ source: 'webhook', eventType: 'meeting.rtms_started', dedupeKey: key, rtmsStreamId: 's', eventTs: 1, payload: {} }) as unknown as StoredZoomEventInput;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(probe: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A throwaway redis-server (no persistence) on a free loopback port, killed and started again by the test. */
class RedisServer {
  private child: ChildProcess | null = null;
  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address() as { port: number };
        srv.close(() => resolve(p));
      });
    });
    const server = new RedisServer(port);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  async restart(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await until(async () => {
      const c = new Redis({ host: '127.0.0.1', port: this.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => undefined);
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    }, `redis-server on port ${this.port}`);
  }

  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * The outage as BullMQ sees it with the hub's own connection options (bullConnectionFor:
 * maxRetriesPerRequest null, offline queue): a command neither answers nor fails while a
 * real redis-server is down. The writer must acknowledge anyway, and queue the jobs once
 * the server is back.
 */
describe('ZoomEventWriter through a Redis outage (a redis-server the test kills and restarts)', () => {
  let server: RedisServer;
  let queue: Queue;
  const rows: string[] = [];
  const events = { storeZoomEvents: async (inputs: StoredZoomEventInput[]) => inputs.map((i) => (rows.push(i.dedupeKey), `ev-${i.dedupeKey}`)) };
  const jobIds = async () => (await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).map((j) => j.data.eventId as string).sort();

  beforeAll(async () => {
    server = await RedisServer.start();
    queue = new Queue('zoom-events', { connection: bullConnectionFor({ mode: 'standalone', url: server.url } as never), prefix: `writer-outage-${process.pid}` });
    queue.on('error', () => undefined);
  });

  afterAll(async () => {
    if (!server.running) await server.restart();
    await queue.close();
    await server.kill();
  });

  it('acknowledges stored events within the bound while Redis is down, and queues them when it is back', async () => {
    const producer = { enqueueBulk: (name: string, items: Array<{ data: { eventId: string } }>) => queue.addBulk(items.map((i) => ({ name, data: i.data, opts: { jobId: `zoom-event-${i.data.eventId}` } }))) };
    const writer = new ZoomEventWriter(events as never, producer as never);
    await expect(writer.store(input('a'))).resolves.toBe('ev-a');
    expect(await jobIds()).toEqual(['ev-a']);

    await server.kill();
    await sleep(200);
    const started = Date.now();
    const answer = await Promise.race([writer.store(input('b')), sleep(2500).then(() => 'no answer')]);
    // Before the fix: no answer at all until Redis came back (Zoom gives up after 3 s).
    expect(answer).toBe('ev-b');
    expect(Date.now() - started).toBeLessThan(ENQUEUE_TIMEOUT_MS + 500);
    const next = Date.now();
    await expect(writer.store(input('c'))).resolves.toBe('ev-c');
    expect(Date.now() - next).toBeLessThan(200);
    expect(rows).toEqual(['a', 'b', 'c']);

    // Back (empty: the test server keeps nothing). The held command and the deferred ids go through.
    await server.restart();
    await until(async () => (await jobIds()).join() === 'ev-b,ev-c', 'the jobs of the events stored during the outage');
  }, 30_000);
});
