import type { ConfigService } from '@nestjs/config';
import type { Worker } from 'bullmq';
import type Redis from 'ioredis';
import type { AppConfig } from '../../../config/app.config';
import { QueueName } from '../../../jobs/queue-names';
import { RunningStream, RunningStreams } from '../stream/running-streams';

/**
 * An in-memory Redis for the commands the stream workers' presence, the drain script and
 * the registry send (hashes, the queue's lists and sorted sets, lock strings; MULTI … EXEC),
 * shared by several presences so they see each other as over a real Redis.
 */
export class FleetRedis {
  readonly hashes = new Map<string, Map<string, string>>();
  readonly lists = new Map<string, string[]>();
  readonly zsets = new Map<string, Map<string, number>>();
  readonly strings = new Map<string, string>();
  fail = false;

  /** A hash, created empty if missing. */
  hash(key: string): Map<string, string> {
    let h = this.hashes.get(key);
    if (!h) this.hashes.set(key, (h = new Map()));
    return h;
  }

  private list(key: string): string[] {
    let l = this.lists.get(key);
    if (!l) this.lists.set(key, (l = []));
    return l;
  }

  private zset(key: string): Map<string, number> {
    let z = this.zsets.get(key);
    if (!z) this.zsets.set(key, (z = new Map()));
    return z;
  }

  /** The commands, run synchronously. */
  private readonly commands = {
    hset: (key: string, ...args: unknown[]) => {
      const h = this.hash(key);
      const pairs = typeof args[0] === 'object' && args[0] !== null ? Object.entries(args[0] as Record<string, string>) : [[String(args[0]), String(args[1])]];
      for (const [f, v] of pairs) h.set(f, v);
      return pairs.length;
    },
    hget: (key: string, field: string) => this.hash(key).get(field) ?? null,
    hgetall: (key: string) => Object.fromEntries(this.hash(key)),
    hkeys: (key: string) => [...this.hash(key).keys()],
    hdel: (key: string, ...fields: string[]) => fields.filter((f) => this.hash(key).delete(f)).length,
    llen: (key: string) => this.list(key).length,
    lpos: (key: string, value: string) => {
      const i = this.list(key).indexOf(value);
      return i < 0 ? null : i;
    },
    zcard: (key: string) => this.zset(key).size,
    zscore: (key: string, member: string) => {
      const s = this.zset(key).get(member);
      return s === undefined ? null : String(s);
    },
    get: (key: string) => this.strings.get(key) ?? null,
  };

  /** What the presence is given as its ioredis client. */
  client(): Redis {
    const direct = Object.fromEntries(
      Object.entries(this.commands).map(([name, fn]) => [
        name,
        async (...args: unknown[]) => {
          if (this.fail) throw new Error('connection lost');
          return (fn as (...a: unknown[]) => unknown)(...args);
        },
      ]),
    );
    const multi = () => {
      const ops: Array<() => unknown> = [];
      const chain: Record<string, unknown> = {
        exec: async () => {
          if (this.fail) throw new Error('connection lost');
          return ops.map((op) => [null, op()]);
        },
      };
      for (const [name, fn] of Object.entries(this.commands)) {
        chain[name] = (...args: unknown[]) => {
          ops.push(() => (fn as (...a: unknown[]) => unknown)(...args));
          return chain;
        };
      }
      return chain;
    };
    return { ...direct, multi } as unknown as Redis;
  }

  // ── the queue, as BullMQ keeps it ──

  /** A fetch holds the job: active, with its lock set to the fetch's token (`<BullMQ worker id>:<n>`). */
  held(qn: string, jobId: string, token: string): void {
    this.queued(qn, jobId, false);
    this.list(`${qn}:active`).push(jobId);
    this.strings.set(`${qn}:${jobId}:lock`, token);
  }

  /** The job back in `wait` (a hand-over), or out of it. */
  queued(qn: string, jobId: string, waiting = true): void {
    for (const k of ['active', 'wait']) this.lists.set(`${qn}:${k}`, this.list(`${qn}:${k}`).filter((id) => id !== jobId));
    this.strings.delete(`${qn}:${jobId}:lock`);
    if (waiting) this.list(`${qn}:wait`).push(jobId);
  }

  registration(qn: string, workerId: string): { draining: boolean; running: number; handingOver: number; at: number } | undefined {
    const raw = this.hash(`${qn}:workers`).get(workerId);
    return raw === undefined ? undefined : (JSON.parse(raw) as { draining: boolean; running: number; handingOver: number; at: number });
  }
}

export const QN = 'p:rtms-streams';

export const fleetConfig = (cap: number, drainIntervalMs = 0, spoolHost = 'host-a') =>
  ({
    get: (key: string) =>
      ({
        queues: { concurrency: { [QueueName.RtmsStreams]: cap } },
        rtms: { workers: { balanceSlack: 1, drainIntervalMs, spoolHostLostAfterMs: 60_000 } },
        storage: { spoolHost },
      })[key],
  }) as unknown as ConfigService<AppConfig, true>;

let bullIds = 0;
/** A BullMQ worker stand-in: its id (the prefix of its fetches' lock tokens), pause and resume. */
export const fakeWorker = () => ({ id: `bull-${++bullIds}`, qualifiedName: QN, pause: jest.fn(async () => undefined), resume: jest.fn() }) as unknown as Worker & { id: string; pause: jest.Mock; resume: jest.Mock };

/**
 * A stream held by `running`; aborting it does what the processor does with a handed-over
 * job: the run ends, the job goes back to `wait`, the admission is released.
 */
export function holdStream(running: RunningStreams, id: string, onAbort: (id: string) => void): RunningStream {
  let end!: () => void;
  const stream: RunningStream = {
    rtmsStreamId: id,
    done: new Promise<void>((resolve) => (end = resolve)),
    leaseRenewed: () => undefined,
    abort: () => {
      running.remove(stream);
      onAbort(id);
      end();
    },
  };
  running.add(stream);
  return stream;
}

/** Waits until `cond` holds (real time), or fails after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const registrationJson = (id: string, running: number, extra: { cap?: number; draining?: boolean; at?: number } = {}) =>
  JSON.stringify({ id, running, cap: extra.cap ?? 100, draining: extra.draining ?? false, spoolHost: id, hostname: id, pid: 1, at: extra.at ?? Date.now() });
