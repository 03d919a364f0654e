import { AddressInfo, createServer } from 'node:net';
import Redis, { RedisOptions } from 'ioredis';
import { RedisConnection } from 'bullmq';
import { endDisconnectWhileReconnecting, endingBetweenAttempts } from './disconnect-while-reconnecting';

/** A loopback port nothing listens on (bound, then released): connections are refused at once. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `check` every 10 ms until it holds, or fails after `timeoutMs`. */
async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves with true when `emitter` emits 'end' within `ms`, false otherwise. */
function endsWithin(emitter: { once(event: 'end', listener: () => void): unknown }, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    emitter.once('end', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

// Long enough between attempts that the client is caught waiting, not mid-attempt.
const retry = (): number => 60_000;

describe('endDisconnectWhileReconnecting', () => {
  let port: number;
  const open: Redis[] = [];

  beforeAll(async () => {
    endDisconnectWhileReconnecting();
    endDisconnectWhileReconnecting(); // idempotent: one wrapper, not two
    port = await refusedPort();
  });

  afterEach(() => {
    for (const c of open.splice(0)) {
      if (c.status === 'end') continue;
      c.disconnect();
      // A client left waiting by design (not opted in) is ended the way ioredis can.
      if (c.status === 'reconnecting') (c as unknown as { setStatus(s: string): void }).setStatus('end');
    }
  });

  function client(options: RedisOptions = {}, optIn = true): Redis {
    const base: RedisOptions = { host: '127.0.0.1', port, retryStrategy: retry, maxRetriesPerRequest: null, ...options };
    const c = new Redis(optIn ? endingBetweenAttempts(base) : base);
    c.on('error', () => undefined);
    open.push(c);
    return c;
  }

  it('a client waiting to reconnect ends when disconnected: status end, end emitted, queued commands rejected', async () => {
    const c = client();
    await until(() => c.status === 'reconnecting', 'the client to wait for its next attempt');
    const queued = c.get('k');
    const ended = endsWithin(c, 2000);
    c.disconnect();
    expect(await ended).toBe(true);
    expect(c.status).toBe('end');
    await expect(queued).rejects.toThrow('Connection is closed.');
  });

  it('disconnect(true), a request to reconnect, leaves a waiting client waiting for its next attempt', async () => {
    const c = client();
    await until(() => c.status === 'reconnecting', 'the client to wait for its next attempt');
    c.disconnect(true);
    expect(c.status).toBe('reconnecting');
  });

  it("a client not opted in (a Cluster's node) keeps ioredis's behaviour: the Cluster manages it", async () => {
    const c = client({}, false);
    await until(() => c.status === 'reconnecting', 'the client to wait for its next attempt');
    c.disconnect();
    expect(c.status).toBe('reconnecting');
  });

  it('the opt-in survives duplicate() (BullMQ duplicates a connection for each blocking reader)', async () => {
    const c = client();
    const copy = c.duplicate();
    copy.on('error', () => undefined);
    open.push(copy);
    await until(() => copy.status === 'reconnecting', 'the copy to wait for its next attempt');
    copy.disconnect();
    expect(copy.status).toBe('end');
  });

  it("BullMQ's disconnect-and-wait (how a worker closes its blocking connection) returns while Redis is away", async () => {
    const c = client();
    const connection = new RedisConnection(c, { shared: true, blocking: true, skipVersionCheck: true, skipWaitingForReady: true });
    connection.on('error', () => undefined);
    await until(() => c.status === 'reconnecting', 'the client to wait for its next attempt');
    const returned = await Promise.race([connection.disconnect(true).then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 2000))]);
    expect(returned).toBe(true);
    await connection.close();
  });
});
