import Redis from 'ioredis';
import { liveKeys, LiveTextEntry, TEXT_ENTRY_FIELD } from '../live-protocol';
import { LiveTextLog } from './live-text-log';
import { livePublishKit } from './live-publish.spec-helper';
import { RedisServerProcess } from '../../../../test/utils/redis-server-process';

const entry = (session: string, n: number): LiveTextEntry => ({ media: 'transcript', session_id: session, ts: 1000 + n, data: { text: `line ${n}` } });

async function until(probe: () => Promise<boolean> | boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The local Redis, counting pipelines and recording XADD arguments. */
function countingRedis(real: Redis) {
  const state = { pipelines: 0, xaddArgs: [] as unknown[][] };
  const client = {
    pipeline: () => {
      state.pipelines += 1;
      const p = real.pipeline();
      const xadd = p.xadd.bind(p) as (...args: unknown[]) => unknown;
      (p as unknown as { xadd: (...args: unknown[]) => unknown }).xadd = (...args: unknown[]) => {
        state.xaddArgs.push(args);
        return xadd(...args);
      };
      return p;
    },
  } as unknown as Redis;
  return { client, state };
}

describe('LiveTextLog (against the local Redis)', () => {
  const kit = livePublishKit({ resumeWindowSec: 300 });
  const keys = liveKeys(kit.prefix);
  const counting = countingRedis(kit.redis);
  const log = new LiveTextLog(counting.client, kit.config, kit.metrics);
  const read = async (session: string) => (await kit.redis.xrange(keys.textLog(session), '-', '+')).map(([id, fields]) => ({ id, entry: JSON.parse(fields[1]) as LiveTextEntry, field: fields[0] }));

  afterAll(async () => {
    await log.beforeApplicationShutdown();
    await kit.cleanup();
  });

  it('writes the entries of one turn in one pipeline, in append order, with trim, expiry, active set and one announce per session', async () => {
    const announces: string[] = [];
    const sub = kit.redis.duplicate();
    sub.on('message', (_c: string, m: string) => announces.push(m));
    await sub.subscribe(keys.announce);
    const before = counting.state.pipelines;
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) log.append(entry('s1', i));
    log.append(entry('s2', 0));
    await until(() => log.buffered === 0 && counting.state.pipelines > before, 'the write');
    await log.flush();
    expect(counting.state.pipelines - before).toBe(1);

    const s1 = await read('s1');
    expect(s1.map((e) => e.entry.data.text)).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    expect(s1.every((e) => e.field === TEXT_ENTRY_FIELD)).toBe(true);
    expect(s1.map((e) => e.entry)).toContainEqual(entry('s1', 0));
    const [minidKw, approx, minId, star] = counting.state.xaddArgs[0].slice(1) as string[];
    expect([minidKw, approx, star]).toEqual(['MINID', '~', '*']);
    const minMs = Number(minId.split('-')[0]);
    expect(minMs).toBeGreaterThanOrEqual(t0 - 300_000);
    expect(minMs).toBeLessThanOrEqual(Date.now() - 300_000);
    const ttl = await kit.redis.pttl(keys.textLog('s1'));
    expect(ttl).toBeGreaterThan(300_000);
    expect(ttl).toBeLessThanOrEqual(360_000);
    expect(Number(await kit.redis.zscore(keys.activeSessions, 's2'))).toBeGreaterThanOrEqual(t0);

    log.append(entry('s1', 5));
    await log.flush();
    await until(() => announces.length >= 2, 'announces');
    // Pub/sub is ordered per connection: a third announce would have arrived before this one.
    await kit.redis.publish(keys.announce, 'marker');
    await until(() => announces.includes('marker'), 'marker');
    expect(announces.filter((a) => a !== 'marker').sort()).toEqual(['s1', 's2']);
    expect(await kit.metricValue('rtms_hub_live_published_total', { media: 'transcript' })).toBe(7);
    await sub.quit();
  });

  it('appends an app event once per event id, however often it is called', async () => {
    const e = { media: 'events' as const, session_id: 's5', ts: 42, data: { event: 'session.status_changed', to: 'streaming' } };
    const [first, again] = await Promise.all([log.appendAppEvent('ev-1', e), log.appendAppEvent('ev-1', e)]);
    expect([first, again].sort()).toEqual([false, true]);
    expect(await log.appendAppEvent('ev-1', e)).toBe(false);
    expect(await log.appendAppEvent('ev-2', { ...e, data: { event: 'recording.ready' } })).toBe(true);
    expect((await read('s5')).map((x) => x.entry.data.event)).toEqual(['session.status_changed', 'recording.ready']);
    expect(await kit.redis.ttl(keys.appEventLogged('ev-1'))).toBeGreaterThan(300);
    expect(await kit.redis.pttl(keys.textLog('s5'))).toBeGreaterThan(300_000);
    expect(await kit.redis.zscore(keys.activeSessions, 's5')).not.toBeNull();
  });
});

/**
 * Outages as ioredis reports them: a real redis-server the test kills and starts again,
 * and a client with the shared client's options (redis.module.ts: one retry per request,
 * no offline queue), reconnecting quickly. Its pipelines do not reject while the server is
 * gone: each command fails on its own ("Stream isn't writeable", "Connection is closed.").
 */
describe('LiveTextLog through a Redis outage (a redis-server the test kills and restarts)', () => {
  // Made in beforeAll: a describe filtered out by -t runs no hooks, and an open client would hold jest.
  let kit: ReturnType<typeof livePublishKit>;
  let keys: ReturnType<typeof liveKeys>;
  let server: RedisServerProcess;
  let redis: Redis;
  const read = async (session: string) => (await redis.xrange(keys.textLog(session), '-', '+')).map(([, fields]) => JSON.parse(fields[1]) as LiveTextEntry);
  const metric = (kind: string) => kit.metricValue('rtms_hub_live_publish_errors_total', { kind });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    kit = livePublishKit({ resumeWindowSec: 300 });
    keys = liveKeys(kit.prefix);
    server = await RedisServerProcess.start();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 50, disconnectTimeout: 10 });
    redis.on('error', () => undefined);
    await until(() => redis.status === 'ready', 'the client');
  });

  afterAll(async () => {
    redis.disconnect();
    await server.kill();
    await kit.cleanup();
  });

  it('keeps every entry through Redis going away mid-stream and coming back: each written once, in order, none dropped', async () => {
    const log = new LiveTextLog(redis, kit.config, kit.metrics);
    const droppedBefore = await metric('text_dropped');
    const failedBefore = await metric('text');
    const publishedBefore = await kit.metricValue('rtms_hub_live_published_total', { media: 'transcript' });
    const N = 120;
    let peakBuffered = 0;
    for (let i = 0; i < N; i++) {
      if (i === 30) await server.kill();
      if (i === 90) await server.restart();
      log.append(entry('o1', i));
      peakBuffered = Math.max(peakBuffered, log.buffered);
      await sleep(3);
    }
    await until(() => log.buffered === 0, 'the backlog written after the restart', 15_000);
    await log.flush();

    // What the killed server acknowledged went with it (no persistence); the restarted one
    // holds everything after that: the rest of the stream, each entry once, in order.
    const written = (await read('o1')).map((e) => e.data.text as string);
    const acknowledgedBefore = N - written.length;
    expect(acknowledgedBefore).toBeGreaterThan(0);
    expect(acknowledgedBefore).toBeLessThanOrEqual(30);
    expect(written).toEqual(Array.from({ length: written.length }, (_, k) => `line ${acknowledgedBefore + k}`));
    expect((await kit.metricValue('rtms_hub_live_published_total', { media: 'transcript' })) - publishedBefore).toBe(N);
    expect((await metric('text_dropped')) - droppedBefore).toBe(0);
    expect((await metric('text')) - failedBefore).toBeGreaterThan(0);
    expect(peakBuffered).toBeGreaterThan(10);
    expect(await redis.pttl(keys.textLog('o1'))).toBeGreaterThan(300_000);
    await log.beforeApplicationShutdown();
  });

  it('bounds the buffer while Redis is gone: past the cap the oldest entries go and are counted', async () => {
    const capped = new LiveTextLog(redis, kit.config, kit.metrics);
    capped.bufferCap = 3;
    const droppedBefore = await metric('text_dropped');
    const failedBefore = await metric('text');
    await server.kill();
    for (let i = 0; i < 5; i++) capped.append(entry('o2', i));
    await until(async () => (await metric('text')) > failedBefore, 'a failed write');
    expect(capped.buffered).toBe(3);
    await server.restart();
    await until(() => capped.buffered === 0, 'the retry', 10_000);
    await capped.flush();
    expect((await read('o2')).map((e) => e.data.text)).toEqual(['line 2', 'line 3', 'line 4']);
    expect((await metric('text_dropped')) - droppedBefore).toBe(2);
    await capped.beforeApplicationShutdown();
  });

  it('rejects an app event append while Redis is gone (the fan-out job retries), then appends it on the retry', async () => {
    const log = new LiveTextLog(redis, kit.config, kit.metrics);
    const e = { media: 'events' as const, session_id: 'o3', ts: 43, data: { event: 'zoom_room.joined' } };
    await server.kill();
    await until(() => redis.status !== 'ready', 'the client to see the outage');
    await expect(log.appendAppEvent('ev-3', e)).rejects.toThrow(/writeable|closed|retries/i);
    await server.restart();
    await until(() => redis.status === 'ready', 'the client back');
    expect(await log.appendAppEvent('ev-3', e)).toBe(true);
    expect(await read('o3')).toHaveLength(1);
    await log.beforeApplicationShutdown();
  });
});
