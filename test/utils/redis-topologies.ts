import { ChildProcess, execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { waitFor } from './wait-for';

/**
 * Throwaway Redis topologies for e2e tests, from Debian's redis packages (redis-server,
 * which runs a sentinel with --sentinel, and redis-cli), on free loopback ports, in a
 * temp dir: never the shared Redis on 6379. stop() kills every process and removes the dir.
 */

const run = promisify(execFile);
const HOST = '127.0.0.1';

/**
 * `n` distinct free loopback ports: every listener stays open until all have a port, so
 * the kernel cannot hand the same one out twice (one at a time, it may: a closed port is
 * free again at once, and a Sentinel set once got its primary's port for its replica).
 */
async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (srv) =>
          new Promise<number>((resolve, reject) => {
            srv.once('error', reject);
            srv.listen(0, HOST, () => resolve((srv.address() as { port: number }).port));
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => (srv.listening ? srv.close(() => resolve()) : resolve()))));
  }
}

interface RedisProcess {
  port: number;
  child: ChildProcess;
  exited: Promise<void>;
  output(): string;
}

function startRedis(args: string[], port: number): RedisProcess {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { port, child, exited, output: () => out };
}

async function kill(p: RedisProcess): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exited;
}

/** A short-lived admin connection (no retries: a test must see a dead server as an error). */
/** Boots a set; if booting fails half way, stops what did start before rethrowing. */
async function bootOrCleanUp<T extends { stop(): Promise<void> }>(set: T, boot: () => Promise<void>): Promise<T> {
  try {
    await boot();
  } catch (err) {
    await set.stop();
    throw err;
  }
  return set;
}

async function withClient<T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

const info = (port: number, section: string) => withClient(port, (c) => c.info(section));
const field = (text: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim();

/** Base arguments of a data node: loopback only, no persistence, expired-key events on (the hub's lease takeover uses them). */
const nodeArgs = (port: number, dir: string) => ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '', '--appendonly', 'no', '--notify-keyspace-events', 'Ex', '--protected-mode', 'no'];

/** A primary lost without a failover of its own (killed or frozen), and the replica the sentinels promoted. */
export interface PrimaryLoss {
  lost: number;
  promoted: number;
  /** Date.now() when the primary was lost. */
  lostAt: number;
  /** When every sentinel named the replica (and it had the primary role), ms after the loss. */
  promotedAfterMs: number;
}

export class SentinelSet {
  static readonly NAME = 'hubmaster';
  private readonly procs: RedisProcess[] = [];
  /** The data nodes' processes by port (killPrimary). */
  private readonly dataNodes = new Map<number, RedisProcess>();
  /** Ports of the two data nodes; which one is primary changes on switchover. */
  nodes: number[] = [];
  sentinels: number[] = [];

  private constructor(private readonly dir: string) {}

  /** One primary, one replica and three sentinels (quorum 2), all up and aware of each other. */
  static async start(): Promise<SentinelSet> {
    const set = new SentinelSet(await fs.mkdtemp(path.join(os.tmpdir(), 'redis-sentinel-')));
    return bootOrCleanUp(set, () => set.boot());
  }

  /** REDIS_SENTINELS / REDIS_SENTINEL_NAME for the hub. */
  env(): Record<string, string> {
    return { REDIS_SENTINELS: this.sentinels.map((p) => `${HOST}:${p}`).join(','), REDIS_SENTINEL_NAME: SentinelSet.NAME };
  }

  /** The primary's port as the sentinels report it (every one must agree). */
  async primary(): Promise<number> {
    const ports = await Promise.all(
      this.sentinels.map((p) => withClient(p, async (c) => Number(((await c.call('SENTINEL', 'get-master-addr-by-name', SentinelSet.NAME)) as string[])[1]))),
    );
    if (new Set(ports).size !== 1) throw new Error(`sentinels disagree on the primary: ${ports.join(', ')}`);
    return ports[0];
  }

  private async boot(): Promise<void> {
    const [primary, replica, ...sentinelPorts] = await freePorts(5);
    this.nodes = [primary, replica];
    for (const port of this.nodes) {
      const dir = path.join(this.dir, String(port));
      await fs.mkdir(dir);
      const args = nodeArgs(port, dir);
      if (port === replica) args.push('--replicaof', HOST, String(primary));
      const proc = startRedis(args, port);
      this.procs.push(proc);
      this.dataNodes.set(port, proc);
    }
    await waitFor(async () => field(await info(replica, 'replication'), 'master_link_status') === 'up', { timeoutMs: 10_000, what: 'the replica in sync' });
    for (const port of sentinelPorts) {
      const conf = path.join(this.dir, `sentinel-${port}.conf`);
      await fs.writeFile(
        conf,
        [
          `port ${port}`,
          `bind ${HOST}`,
          `dir ${this.dir}`,
          `sentinel monitor ${SentinelSet.NAME} ${HOST} ${primary} 2`,
          `sentinel down-after-milliseconds ${SentinelSet.NAME} 1000`,
          `sentinel failover-timeout ${SentinelSet.NAME} 10000`,
          `sentinel parallel-syncs ${SentinelSet.NAME} 1`,
          '',
        ].join('\n'),
      );
      this.sentinels.push(port);
      this.procs.push(startRedis([conf, '--sentinel'], port));
    }
    // Each sentinel has found the replica and the two other sentinels (hello messages, every 2 s).
    await waitFor(
      async () => {
        for (const p of this.sentinels) {
          const ok = await withClient(p, async (c) => {
            const replicas = (await c.call('SENTINEL', 'replicas', SentinelSet.NAME)) as unknown[];
            const others = (await c.call('SENTINEL', 'sentinels', SentinelSet.NAME)) as unknown[];
            return replicas.length === 1 && others.length === 2;
          });
          if (!ok) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the sentinels to know the replica and each other' },
    );
  }

  /**
   * A planned switchover that loses no acknowledged write: writes are paused on the old
   * primary (clients wait, nothing is refused), the replica catches up, the sentinels
   * promote it, and only once every sentinel names the new primary are the old one's
   * clients disconnected (ioredis resends what they had in flight, to the new primary)
   * and the old primary made a replica. Plain SENTINEL FAILOVER would leave a window in
   * which writes still land on the old primary and are then discarded by its resync.
   */
  async switchover(): Promise<{ from: number; to: number }> {
    const from = await this.primary();
    const to = this.nodes.find((p) => p !== from)!;
    await withClient(from, (c) => c.call('CLIENT', 'PAUSE', '20000', 'WRITE'));
    try {
      await waitFor(
        async () => {
          const offset = field(await info(from, 'replication'), 'master_repl_offset');
          return offset !== undefined && field(await info(to, 'replication'), 'slave_repl_offset') === offset;
        },
        { timeoutMs: 10_000, what: 'the replica to catch up' },
      );
      await withClient(this.sentinels[0], (c) => c.call('SENTINEL', 'FAILOVER', SentinelSet.NAME));
      await waitFor(async () => (await this.primary().catch(() => 0)) === to, { timeoutMs: 20_000, intervalMs: 100, what: 'every sentinel to name the new primary' });
      await withClient(from, async (c) => {
        await c.call('REPLICAOF', HOST, String(to));
        await c.call('CLIENT', 'KILL', 'TYPE', 'normal');
        await c.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      });
    } finally {
      await withClient(from, (c) => c.call('CLIENT', 'UNPAUSE')).catch(() => undefined);
    }
    await waitFor(async () => field(await info(from, 'replication'), 'master_link_status') === 'up', { timeoutMs: 15_000, what: 'the old primary to replicate the new one' });
    return { from, to };
  }

  /**
   * An unplanned failover: the primary is SIGKILLed (no goodbye to its clients, whatever
   * it had not shipped to the replica is gone) and the sentinels, after
   * down-after-milliseconds and an election, promote the replica. Resolves once every
   * sentinel names the replica, with when that happened (ms after the kill, as seen by
   * polling every 50 ms). The killed node stays down.
   */
  async killPrimary(): Promise<PrimaryLoss> {
    return this.losePrimary((p) => kill(p));
  }

  /**
   * The primary hangs instead of dying (SIGSTOP): what a host that lost power or a network
   * partition looks like to its clients — their sockets stay open, no RST, no reply, and
   * connections are still accepted by the kernel. The sentinels promote the replica as
   * for a kill. It stays frozen until `killLostPrimary()` (or stop()).
   */
  async freezePrimary(): Promise<PrimaryLoss> {
    return this.losePrimary(async (p) => void p.child.kill('SIGSTOP'));
  }

  /** SIGKILLs the data node that is not the primary any more (a frozen one: its host is gone for good). */
  async killLostPrimary(): Promise<void> {
    const primary = await this.primary();
    await Promise.all([...this.dataNodes].filter(([port]) => port !== primary).map(([, p]) => kill(p)));
  }

  private async losePrimary(lose: (p: RedisProcess) => Promise<void>): Promise<PrimaryLoss> {
    const lost = await this.primary();
    const promoted = this.nodes.find((p) => p !== lost)!;
    const lostAt = Date.now();
    await lose(this.dataNodes.get(lost)!);
    await waitFor(async () => (await this.primary().catch(() => 0)) === promoted, { timeoutMs: 30_000, intervalMs: 50, what: 'every sentinel to name the promoted replica' });
    await waitFor(async () => field(await info(promoted, 'replication'), 'role') === 'master', { timeoutMs: 10_000, intervalMs: 50, what: 'the replica to take the primary role' });
    return { lost, promoted, lostAt, promotedAfterMs: Date.now() - lostAt };
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.splice(0).map(kill));
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

export class RedisClusterSet {
  private readonly procs: RedisProcess[] = [];
  private readonly byPort = new Map<number, RedisProcess>();
  ports: number[] = [];

  private constructor(
    private readonly dir: string,
    private readonly replicas: number,
  ) {}

  /** Three primaries sharing the 16384 slots (each with `replicas` replicas), state ok on every node. */
  static async start(options: { replicas?: number } = {}): Promise<RedisClusterSet> {
    const set = new RedisClusterSet(await fs.mkdtemp(path.join(os.tmpdir(), 'redis-cluster-')), options.replicas ?? 0);
    return bootOrCleanUp(set, () => set.boot());
  }

  env(): Record<string, string> {
    return { REDIS_CLUSTER_NODES: this.ports.map((p) => `${HOST}:${p}`).join(',') };
  }

  /** Keys on each primary (DBSIZE), to show where the hub's data went. */
  async keysPerNode(): Promise<number[]> {
    const primaries = await this.primaries();
    return Promise.all(primaries.map((p) => withClient(p, (c) => c.dbsize())));
  }

  /** Ports of the nodes that are primaries now (as a live node sees the cluster). */
  async primaries(): Promise<number[]> {
    const nodes = await this.clusterNodes();
    return nodes.filter((n) => n.primary && !n.failed).map((n) => n.port);
  }

  /** The port of the primary serving `key`'s slot, as a live node sees it. */
  async primaryFor(key: string): Promise<number> {
    const alive = this.ports.find((p) => this.isAlive(p))!;
    const slot = Number(await withClient(alive, (c) => c.call('CLUSTER', 'KEYSLOT', key)));
    const nodes = await this.clusterNodes();
    const owner = nodes.find((n) => n.primary && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!owner) throw new Error(`no live primary serves slot ${slot}`);
    return owner.port;
  }

  /**
   * An unplanned failover inside the cluster: the primary serving `key` is SIGKILLed; its
   * replica takes its slots after cluster-node-timeout and an election. Resolves once a
   * live node names another primary for the slot and the cluster state is ok again.
   */
  async killPrimaryFor(key: string): Promise<PrimaryLoss> {
    const lost = await this.primaryFor(key);
    const lostAt = Date.now();
    await kill(this.byPort.get(lost)!);
    let promoted = 0;
    await waitFor(
      async () => {
        promoted = await this.primaryFor(key).catch(() => 0);
        if (promoted === 0 || promoted === lost) return false;
        const alive = this.ports.filter((p) => this.isAlive(p));
        return (await Promise.all(alive.map(async (p) => field(await withClient(p, (c) => c.call('CLUSTER', 'INFO') as Promise<string>), 'cluster_state')))).every((s) => s === 'ok');
      },
      { timeoutMs: 30_000, intervalMs: 50, what: "the replica to take over the killed primary's slots" },
    );
    return { lost, promoted, lostAt, promotedAfterMs: Date.now() - lostAt };
  }

  /**
   * A planned failover: the replica of the primary serving `key` runs CLUSTER FAILOVER and
   * takes its slots; the old primary becomes its replica (and answers MOVED for the slot).
   */
  async failoverPrimaryFor(key: string): Promise<{ from: number; to: number }> {
    const from = await this.primaryFor(key);
    const nodes = await this.clusterNodes();
    const fromId = nodes.find((n) => n.port === from)!.id;
    const to = nodes.find((n) => !n.primary && n.primaryId === fromId)?.port;
    if (!to) throw new Error(`the primary on ${from} has no replica`);
    await withClient(to, (c) => c.call('CLUSTER', 'FAILOVER'));
    await waitFor(async () => (await this.primaryFor(key).catch(() => 0)) === to, { timeoutMs: 15_000, intervalMs: 50, what: 'the replica to take over the slot' });
    return { from, to };
  }

  private isAlive(port: number): boolean {
    const p = this.byPort.get(port)!;
    return p.child.exitCode === null && p.child.signalCode === null;
  }

  private async clusterNodes(): Promise<{ id: string; port: number; primary: boolean; primaryId: string; failed: boolean; slots: [number, number][] }[]> {
    const alive = this.ports.find((p) => this.isAlive(p))!;
    const text = (await withClient(alive, (c) => c.call('CLUSTER', 'NODES'))) as string;
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const f = line.split(' ');
        const port = Number(f[1].split('@')[0].split(':').pop());
        const flags = f[2].split(',');
        const slots = f.slice(8).filter((r) => !r.startsWith('[')).map((r): [number, number] => {
          const [a, b] = r.split('-').map(Number);
          return [a, b ?? a];
        });
        return { id: f[0], port, primary: flags.includes('master'), primaryId: f[3], failed: flags.includes('fail') || flags.includes('fail?'), slots };
      });
  }

  private async boot(): Promise<void> {
    const count = 3 * (1 + this.replicas);
    this.ports.push(...(await freePorts(count)));
    for (const port of this.ports) {
      const dir = path.join(this.dir, String(port));
      await fs.mkdir(dir);
      const proc = startRedis([...nodeArgs(port, dir), '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000'], port);
      this.procs.push(proc);
      this.byPort.set(port, proc);
    }
    await waitFor(async () => (await Promise.all(this.ports.map((p) => withClient(p, (c) => c.ping())))).every((r) => r === 'PONG'), { timeoutMs: 10_000, what: 'cluster nodes up' });
    await run('redis-cli', ['--cluster', 'create', ...this.ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', String(this.replicas), '--cluster-yes'], { timeout: 30_000 });
    await waitFor(async () => (await Promise.all(this.ports.map(async (p) => field(await withClient(p, (c) => c.call('CLUSTER', 'INFO') as Promise<string>), 'cluster_state')))).every((s) => s === 'ok'), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'cluster state ok on every node',
    });
    if (this.replicas > 0) {
      // Every replica has synced with its primary (else a failover could not promote it).
      await waitFor(
        async () => {
          for (const p of this.ports) {
            const repl = await info(p, 'replication');
            if (field(repl, 'role') === 'slave' && field(repl, 'master_link_status') !== 'up') return false;
          }
          return true;
        },
        { timeoutMs: 20_000, intervalMs: 200, what: 'the replicas in sync' },
      );
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.splice(0).map(kill));
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
