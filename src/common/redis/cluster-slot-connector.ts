import { createConnection } from 'node:net';
import { connect as tlsConnect, ConnectionOptions } from 'node:tls';
import Redis, { AbstractConnector } from 'ioredis';
import type { HostPort } from '../../config/redis-topology';
import { reconnectDelayMs } from './redis-options';

/**
 * How the hub reaches a Redis Cluster: one plain connection to the primary that serves the
 * hub's hash slot, found through the cluster's own CLUSTER SLOTS — what ioredis's Sentinel
 * connector does with SENTINEL get-master-addr-by-name, for a Cluster.
 *
 * Why not ioredis's Cluster client: every key the hub owns carries one hash tag
 * (QUEUE_PREFIX), so all of them live in one slot on one primary, and a Cluster client
 * buys nothing but its reconnect logic — which, after an unplanned failover, could leave a
 * BullMQ worker's blocking connection closed with nothing retrying it, or ended for good
 * (ioredis 5.11 handles a drained node pool with one-shot listeners per connect(); BullMQ
 * recovers a Cluster's blocking client by disconnect + connect). A plain connection
 * reconnects through ioredis's ordinary retry loop, the one that Sentinel failovers prove.
 *
 * Each (re)connect asks the seed nodes, in turn, which primary serves the slot and
 * connects to it; when none answers, it reports an 'error' and asks again after a back-off
 * (the client stays `connecting`, as under Sentinel). A primary that lost the slot answers
 * MOVED (or READONLY once demoted), which makes the client reconnect (redis-factory's
 * reconnectOnError) and so ask again; the ready check refuses a node that is not a primary.
 */

/** Where the options carry the target (survives duplicate(), which copies the options). */
export const CLUSTER_SLOT_TARGET = 'rtmsHubClusterSlot';

export interface ClusterSlotTarget {
  /** Cluster nodes to ask (REDIS_CLUSTER_NODES); any live one answers for the whole cluster. */
  seeds: HostPort[];
  /** A key in the hub's slot: the hash-tagged QUEUE_PREFIX. */
  key: string;
  username?: string;
  password?: string;
  tls?: ConnectionOptions;
  /** Per seed: connect + the two questions. */
  askTimeoutMs?: number;
}

interface ConnectorOptions {
  disconnectTimeout?: number;
  [CLUSTER_SLOT_TARGET]: ClusterSlotTarget;
}

type ErrorEmitter = (type: string, err: Error) => void;
type NetStream = Awaited<ReturnType<AbstractConnector['connect']>>;

/** ioredis's message for a connection closed on purpose (its callers match on it). */
const CONNECTION_CLOSED = 'Connection is closed.';
const DEFAULT_ASK_TIMEOUT_MS = 2000;

/** `CLUSTER SLOTS` reply: [start, end, [host, port, id, …], …replicas]. */
type SlotRange = [number, number, [string, number, ...unknown[]], ...unknown[]];

/** The primary serving `slot` in a CLUSTER SLOTS reply; a node that does not know its own address ('' or '?') is the one asked. */
export function primaryForSlot(ranges: SlotRange[], slot: number, asked: HostPort): HostPort | null {
  const range = ranges.find(([start, end]) => slot >= start && slot <= end);
  if (!range) return null;
  const [host, port] = range[2];
  return { host: host && host !== '?' ? host : asked.host, port: Number(port) };
}

export class ClusterSlotConnector extends AbstractConnector {
  private readonly target: ClusterSlotTarget;
  /** The seed to ask first: the last one that answered. */
  private firstSeed = 0;
  /** While connect() waits (a lookup, or the back-off): how disconnect() cuts it short. */
  private readonly inProgress = new Set<() => void>();

  constructor(options: ConnectorOptions) {
    super(options.disconnectTimeout ?? 2000);
    this.target = options[CLUSTER_SLOT_TARGET];
  }

  override async connect(emit: ErrorEmitter): Promise<NetStream> {
    this.connecting = true;
    for (let round = 1; ; round++) {
      const { owner, problem } = await this.askSeeds();
      if (!this.connecting) throw new Error(CONNECTION_CLOSED);
      if (owner) return this.open(owner);
      // Between two rounds of asking every seed: the back-off of every reconnect.
      const delay = reconnectDelayMs(round);
      emit('error', new Error(`Redis Cluster: no node named the primary for the hub's slot (${problem}); asking again in ${delay} ms`));
      await this.sleep(delay);
      if (!this.connecting) throw new Error(CONNECTION_CLOSED);
    }
  }

  /** Also ends a lookup or back-off in progress, so that the client ends at once (BullMQ's close waits for it). */
  override disconnect(): void {
    super.disconnect();
    for (const stop of this.inProgress) stop();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const stop = () => {
        clearTimeout(timer);
        this.inProgress.delete(stop);
        resolve();
      };
      const timer = setTimeout(stop, ms);
      this.inProgress.add(stop);
    });
  }

  /** Ready check (INFO, parsed by ioredis): only a primary may serve the hub. */
  override check(info: { role?: string }): boolean {
    return info.role === undefined || info.role === 'master';
  }

  private open(owner: HostPort): NetStream {
    const stream = this.target.tls ? tlsConnect({ ...this.target.tls, host: owner.host, port: owner.port }) : createConnection({ host: owner.host, port: owner.port });
    stream.once('error', (err) => (this.firstError = err));
    this.stream = stream as NetStream;
    return this.stream;
  }

  private async askSeeds(): Promise<{ owner?: HostPort; problem: string }> {
    const { seeds } = this.target;
    let problem = 'no seed nodes';
    for (let i = 0; i < seeds.length && this.connecting; i++) {
      const index = (this.firstSeed + i) % seeds.length;
      try {
        const owner = await this.ask(seeds[index]);
        if (owner) {
          this.firstSeed = index;
          return { owner, problem: '' };
        }
        problem = `${seeds[index].host}:${seeds[index].port} knows no primary for the slot`;
      } catch (err) {
        problem = `${seeds[index].host}:${seeds[index].port}: ${(err as Error).message}`;
      }
    }
    return { problem };
  }

  private async ask(seed: HostPort): Promise<HostPort | null> {
    const timeout = this.target.askTimeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    const client = new Redis({
      host: seed.host,
      port: seed.port,
      username: this.target.username,
      password: this.target.password,
      tls: this.target.tls,
      connectionName: 'cluster-slot-lookup',
      lazyConnect: true,
      connectTimeout: timeout,
      commandTimeout: timeout,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableReadyCheck: false,
    });
    // The socket's own error (ECONNREFUSED, a timeout) says more than the rejected connect().
    let socketError: Error | undefined;
    client.on('error', (err: Error) => (socketError ??= err));
    const stop = () => client.disconnect();
    this.inProgress.add(stop);
    try {
      await client.connect();
      const [slot, ranges] = await Promise.all([client.call('CLUSTER', 'KEYSLOT', this.target.key), client.call('CLUSTER', 'SLOTS')]);
      return primaryForSlot(ranges as SlotRange[], Number(slot), seed);
    } catch (err) {
      throw socketError ?? err;
    } finally {
      this.inProgress.delete(stop);
      client.disconnect();
    }
  }
}
