import type { ConfigService } from '@nestjs/config';
import type { Worker } from 'bullmq';
import type Redis from 'ioredis';
import type { AppConfig } from '../../../config/app.config';
import { QueueName } from '../../../jobs/queue-names';
import { RunningStream, RunningStreams } from '../stream/running-streams';
import { StreamWorkerPresence } from './stream-worker-presence';

/** A Redis stand-in for the commands the presence sends (MULTI … EXEC only). */
function fakeRedis(state: { active: number; wait: number; workers: Record<string, string>; drain: Record<string, string>; fail?: boolean }) {
  const multi = () => {
    const ops: Array<() => unknown> = [];
    const chain = {
      llen: (key: string) => (ops.push(() => (key.endsWith(':active') ? state.active : key.endsWith(':wait') ? state.wait : 0)), chain),
      zcard: () => (ops.push(() => 0), chain),
      hgetall: (key: string) => (ops.push(() => (key.endsWith(':workers') ? { ...state.workers } : { ...state.drain })), chain),
      hset: (key: string, field: string, value: string) => (ops.push(() => (key.endsWith(':workers') ? (state.workers[field] = value) : 1)), chain),
      hget: (key: string, field: string) => (ops.push(() => (key.endsWith(':drain') ? (state.drain[field] ?? null) : null)), chain),
      hdel: () => (ops.push(() => 1), chain),
      hkeys: (key: string) => (ops.push(() => Object.keys(key.endsWith(':drain') ? state.drain : state.workers)), chain),
      exec: async () => {
        if (state.fail) throw new Error('connection lost');
        return ops.map((op) => [null, op()]);
      },
    };
    return chain;
  };
  const hdel = async (key: string, ...fields: string[]) => {
    const hash = key.endsWith(':drain') ? state.drain : key.endsWith(':workers') ? state.workers : {};
    for (const f of fields) delete hash[f];
    return fields.length;
  };
  return { multi, hdel } as unknown as Redis;
}

const config = (cap: number) =>
  ({
    get: (key: string) =>
      ({
        queues: { concurrency: { [QueueName.RtmsStreams]: cap } },
        rtms: { workers: { balanceSlack: 1, drainIntervalMs: 0, spoolHostLostAfterMs: 60_000 } },
        storage: { spoolHost: 'host-a' },
      })[key],
  }) as unknown as ConfigService<AppConfig, true>;

const other = (id: string, running: number, draining = false) => JSON.stringify({ id, running, cap: 100, draining, spoolHost: id, hostname: id, pid: 1, at: Date.now() });

describe('StreamWorkerPresence', () => {
  const worker = () => ({ qualifiedName: 'p:rtms-streams', pause: jest.fn(async () => undefined), resume: jest.fn() }) as unknown as Worker & { pause: jest.Mock; resume: jest.Mock };
  const presences: StreamWorkerPresence[] = [];
  afterEach(async () => {
    for (const p of presences.splice(0)) await p.onApplicationShutdown();
  });
  const make = (state: Parameters<typeof fakeRedis>[0], running = new RunningStreams(), cap = 100) => {
    const p = new StreamWorkerPresence(config(cap), fakeRedis(state), running);
    presences.push(p);
    return p;
  };

  it('decisions taken at once see each other: of 30 concurrent fetches with one other worker, it takes its share (16)', async () => {
    const state = { active: 30, wait: 0, workers: { b: other('b', 0) }, drain: {} };
    const p = make(state);
    p.attach(worker());
    const results = await Promise.all(Array.from({ length: 30 }, () => p.admit()));
    expect(results.filter((r) => r.admit)).toHaveLength(16);
    const refused = results.find((r) => !r.admit);
    expect(refused).toMatchObject({ admit: false, decision: { reason: 'above_share', share: 16 } });
    // A stream that ends frees a place.
    p.released();
    expect((await p.admit()).admit).toBe(true);
  });

  it('takes the stream when Redis cannot answer (an uneven spread loses nothing; an unrun stream does)', async () => {
    const p = make({ active: 5, wait: 0, workers: { b: other('b', 0) }, drain: {}, fail: true });
    p.attach(worker());
    expect((await p.admit()).admit).toBe(true);
  });

  it('a drain request: stops fetching, hands its streams over one at a time while another worker can take them, then says it is drained', async () => {
    const running = new RunningStreams();
    const handed: string[] = [];
    const state = { active: 3, wait: 0, workers: { b: other('b', 1) }, drain: {} as Record<string, string> };
    const p = make(state, running);
    const hold = (id: string) => {
      let end!: () => void;
      const stream: RunningStream = {
        rtmsStreamId: id,
        done: new Promise<void>((resolve) => (end = resolve)),
        leaseRenewed: () => undefined,
        // What the processor does when a handed-over job ends.
        abort: () => {
          handed.push(id);
          running.remove(stream);
          p.released();
          end();
        },
      };
      running.add(stream);
    };
    ['s1', 's2', 's3'].forEach(hold);
    const w = worker();
    p.attach(w);
    for (let i = 0; i < 3; i++) expect((await p.admit()).admit).toBe(true);
    state.drain[p.workerId] = new Date().toISOString();
    await (p as unknown as { heartbeat(): Promise<void> }).heartbeat();
    expect(p.isDraining).toBe(true);
    expect(w.pause).toHaveBeenCalledWith(true);
    // New streams go elsewhere while b can take them.
    expect(await p.admit()).toMatchObject({ admit: false, decision: { reason: 'draining' } });
    const loop = (p as unknown as { drainLoop: Promise<void> | null }).drainLoop;
    expect(loop).not.toBeNull();
    await loop; // ends once it holds no stream
    expect(handed).toEqual(['s1', 's2', 's3']);
    expect(running.size).toBe(0);
    // Cancelled: it takes streams again.
    delete state.drain[p.workerId];
    await (p as unknown as { heartbeat(): Promise<void> }).heartbeat();
    expect(p.isDraining).toBe(false);
    expect(w.resume).toHaveBeenCalled();
  });

  it('a heartbeat deletes drain requests left by workers that are gone (crashed while draining), and keeps those of live workers', async () => {
    const state = { active: 0, wait: 0, workers: { b: other('b', 1) }, drain: { b: 'x', 'crashed-worker': 'x' } as Record<string, string> };
    const p = make(state, new RunningStreams());
    p.attach(worker());
    await (p as unknown as { heartbeat(): Promise<void> }).heartbeat();
    expect(Object.keys(state.drain)).toEqual(['b']);
  });
});
