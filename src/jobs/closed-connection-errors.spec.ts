import { Queue, Worker } from 'bullmq';
import { StallingRedis } from '../../test/utils/stalling-redis';
import { dropErrorsOfClosedConnections } from './closed-connection-errors';

describe('dropErrorsOfClosedConnections', () => {
  let redis: StallingRedis;

  beforeAll(() => dropErrorsOfClosedConnections());
  afterEach(() => redis.stop());

  const connection = () => ({ host: '127.0.0.1', port: redis.port, retryStrategy: () => 10 });

  it('a queue closed while its connection is still starting leaves no unhandled rejection', async () => {
    redis = await new StallingRedis(1).start();
    const queue = new Queue('q', { connection: connection() });
    const errors: string[] = [];
    queue.on('error', (err) => errors.push(err.message));
    await redis.holding(1);
    expect(errors).toEqual([expect.stringMatching(/ECONNRESET/)]);

    await queue.close();
    // The start fails after close (with the error seen before it)…
    await expect(queue.waitUntilReady()).rejects.toThrow(/ECONNRESET/);
    // …and BullMQ's report of it, one callback later, must not reject unheard.
    await new Promise((resolve) => setImmediate(resolve));
  });

  it('so does a worker (its own and its blocking connection)', async () => {
    redis = await new StallingRedis(2).start();
    const worker = new Worker('q', null, { connection: connection(), autorun: false });
    worker.on('error', () => undefined);
    await redis.holding(2);

    await worker.close();
    await expect(worker.waitUntilReady()).rejects.toThrow(/ECONNRESET/);
    await new Promise((resolve) => setImmediate(resolve));
  });

  it('still reports the errors of an open connection', async () => {
    redis = await new StallingRedis(1).start();
    const queue = new Queue('q', { connection: connection() });
    const seen = new Promise<Error>((resolve) => queue.once('error', resolve));
    expect((await seen).message).toMatch(/ECONNRESET/);
    await queue.close();
    await expect(queue.waitUntilReady()).rejects.toThrow(/ECONNRESET/);
  });
});
