import type Redis from 'ioredis';
import { liveKeys, LiveTextEntry, TEXT_ENTRY_FIELD } from '../live-protocol';
import { LiveTextLog } from './live-text-log';
import { livePublishKit } from './live-publish.spec-helper';

const entry = (session: string, n: number): LiveTextEntry => ({ media: 'transcript', session_id: session, ts: 1000 + n, data: { text: `line ${n}` } });

async function until(probe: () => Promise<boolean> | boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A client whose pipelines fail while `down` is set (the commands are never sent), and which counts pipelines. */
function flakyRedis(real: Redis) {
  const state = { down: false, pipelines: 0, xaddArgs: [] as unknown[][] };
  const client = {
    pipeline: () => {
      state.pipelines += 1;
      const p = real.pipeline();
      const xadd = p.xadd.bind(p) as (...args: unknown[]) => unknown;
      (p as unknown as { xadd: (...args: unknown[]) => unknown }).xadd = (...args: unknown[]) => {
        state.xaddArgs.push(args);
        return xadd(...args);
      };
      if (state.down) p.exec = () => Promise.reject(new Error('connect ECONNREFUSED'));
      return p;
    },
  } as unknown as Redis;
  return { client, state };
}

describe('LiveTextLog (against the local Redis)', () => {
  const kit = livePublishKit({ resumeWindowSec: 300 });
  const keys = liveKeys(kit.prefix);
  const flaky = flakyRedis(kit.redis);
  const log = new LiveTextLog(flaky.client, kit.config, kit.metrics);
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
    const before = flaky.state.pipelines;
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) log.append(entry('s1', i));
    log.append(entry('s2', 0));
    await until(() => log.buffered === 0 && flaky.state.pipelines > before, 'the write');
    await log.flush();
    expect(flaky.state.pipelines - before).toBe(1);

    const s1 = await read('s1');
    expect(s1.map((e) => e.entry.data.text)).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    expect(s1.every((e) => e.field === TEXT_ENTRY_FIELD)).toBe(true);
    expect(s1.map((e) => e.entry)).toContainEqual(entry('s1', 0));
    const [minidKw, approx, minId, star] = flaky.state.xaddArgs[0].slice(1) as string[];
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

  it('keeps entries through a Redis failure and writes them later, in order; counts the failure', async () => {
    flaky.state.down = true;
    for (let i = 0; i < 3; i++) log.append(entry('s3', i));
    await until(async () => (await kit.metricValue('rtms_hub_live_publish_errors_total', { kind: 'text' })) >= 1, 'a failed write');
    log.append(entry('s3', 3));
    expect(log.buffered).toBe(4);
    expect(await kit.metricValue('rtms_hub_live_text_buffered')).toBeGreaterThanOrEqual(3);
    flaky.state.down = false;
    log.append(entry('s3', 4)); // waits for the retry: order is kept
    await until(() => log.buffered === 0, 'the retry', 5000);
    await log.flush();
    expect((await read('s3')).map((e) => e.entry.data.text)).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    const ids = (await read('s3')).map((e) => e.id);
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    expect(await kit.metricValue('rtms_hub_live_text_buffered')).toBe(0);
  });

  it('bounds the buffer: past the cap the oldest entries go and are counted', async () => {
    const capped = new LiveTextLog(flaky.client, kit.config, kit.metrics);
    capped.bufferCap = 3;
    const droppedBefore = await kit.metricValue('rtms_hub_live_publish_errors_total', { kind: 'text_dropped' });
    flaky.state.down = true;
    for (let i = 0; i < 5; i++) capped.append(entry('s4', i));
    await until(() => capped.buffered === 3, 'the cap');
    flaky.state.down = false;
    await capped.flush(3000);
    expect((await read('s4')).map((e) => e.entry.data.text)).toEqual(['line 2', 'line 3', 'line 4']);
    expect((await kit.metricValue('rtms_hub_live_publish_errors_total', { kind: 'text_dropped' })) - droppedBefore).toBe(2);
    await capped.beforeApplicationShutdown();
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

  it('rejects an app event append when Redis fails (the fan-out job retries), then appends it on the retry', async () => {
    const e = { media: 'events' as const, session_id: 's6', ts: 43, data: { event: 'zoom_room.joined' } };
    flaky.state.down = true;
    await expect(log.appendAppEvent('ev-3', e)).rejects.toThrow('ECONNREFUSED');
    flaky.state.down = false;
    expect(await log.appendAppEvent('ev-3', e)).toBe(true);
    expect(await read('s6')).toHaveLength(1);
  });
});
