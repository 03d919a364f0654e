import { Queue } from 'bullmq';
import { RedisServerProcess } from '../../../test/utils/redis-server-process';
import { waitFor } from '../../../test/utils/wait-for';
import { bullConnectionFor } from '../../common/redis/redis-factory';
import type { StoredZoomEventInput } from '../sessions';
import { ENQUEUE_TIMEOUT_MS, ZoomEventWriter } from './zoom-event-writer';

const input = (key: string) => ({ source: 'webhook', eventType: 'meeting.rtms_started', dedupeKey: key, rtmsStreamId: 's', eventTs: 1, payload: {} }) as unknown as StoredZoomEventInput;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/**
 * The outage as BullMQ sees it with the hub's own connection options (bullConnectionFor:
 * maxRetriesPerRequest null, offline queue): a command neither answers nor fails while a
 * real redis-server is down. The writer must acknowledge anyway, and queue the jobs once
 * the server is back.
 */
describe('ZoomEventWriter through a Redis outage (a redis-server the test kills and restarts)', () => {
  let server: RedisServerProcess;
  let queue: Queue;
  const rows: string[] = [];
  const events = { storeZoomEvents: async (inputs: StoredZoomEventInput[]) => inputs.map((i) => (rows.push(i.dedupeKey), `ev-${i.dedupeKey}`)) };
  const jobIds = async () => (await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).map((j) => j.data.eventId as string).sort();

  beforeAll(async () => {
    server = await RedisServerProcess.start();
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
    await waitFor(async () => (await jobIds()).join() === 'ev-b,ev-c', { what: 'the jobs of the events stored during the outage' });
  }, 30_000);
});
