import Redis, { Cluster, ClusterOptions, RedisOptions } from 'ioredis';
import type { RedisTopology } from '../../config/redis-topology';
import { endDisconnectWhileReconnecting, endingBetweenAttempts } from './disconnect-while-reconnecting';
import { redisOptionsFromUrl } from './redis-options';

/**
 * The one place the hub builds Redis connections, from the configured topology (one
 * server, Sentinel or Cluster): the shared command client, every dedicated connection
 * (subscribers, blocking readers, the media publisher) and BullMQ's.
 */

/** Back off up to 2 s between reconnect attempts instead of hammering a down server. */
const retryStrategy = (times: number): number => Math.min(times * 200, 2000);

/**
 * A primary demoted to replica (a failover, or a managed endpoint that moved) answers
 * writes with READONLY while the socket stays open: reconnect (Sentinel then resolves the
 * new primary) and resend the command (2) instead of failing every write until the
 * server happens to drop the connection.
 */
export function reconnectOnReadonly(err: Error): boolean | 1 | 2 {
  return err.message.startsWith('READONLY') ? 2 : false;
}

/**
 * ioredis options for one server or a Sentinel-managed primary (connection level; a
 * Cluster's nodes get the same through `redisOptions`). maxRetriesPerRequest null as
 * BullMQ's blocking connections need; callers override it where failing fast is right.
 */
export function redisOptionsFor(topology: RedisTopology): RedisOptions {
  const common: RedisOptions = {
    maxRetriesPerRequest: null,
    retryStrategy,
    reconnectOnError: reconnectOnReadonly,
    // A server that stops answering (frozen, host gone, partition) is left after this long,
    // not when TCP gives up: under Sentinel the reconnect then finds the promoted replica.
    socketTimeout: topology.socketTimeoutMs || undefined,
  };
  switch (topology.mode) {
    case 'standalone':
      return endingBetweenAttempts({ ...redisOptionsFromUrl(topology.url), ...common });
    case 'sentinel':
      return endingBetweenAttempts({
        ...common,
        sentinels: topology.sentinels,
        name: topology.name,
        sentinelUsername: topology.sentinelUsername,
        sentinelPassword: topology.sentinelPassword,
        sentinelTLS: topology.sentinelTls ? {} : undefined,
        username: topology.username,
        password: topology.password,
        db: topology.db,
        tls: topology.tls ? {} : undefined,
        enableTLSForSentinelMode: topology.tls,
        // Not ioredis's failoverDetector: its sentinel subscriptions outlive a client closed
        // with QUIT (as BullMQ closes its own) and retry forever once the sentinels are gone,
        // so a process could not exit. A failover reaches every connection anyway: Sentinel
        // kills the demoted primary's clients, a dead one drops them, READONLY reconnects.
        failoverDetector: false,
      });
    case 'cluster':
      return { ...common, username: topology.username, password: topology.password, tls: topology.tls ? {} : undefined };
  }
}

/** Cluster-level options; `node` goes to every node connection. */
function clusterOptions(node: RedisOptions): ClusterOptions {
  const { enableOfflineQueue, lazyConnect, ...redisOptions } = node;
  return {
    redisOptions,
    enableOfflineQueue,
    lazyConnect,
    clusterRetryStrategy: retryStrategy,
    // Every key of the hub carries one hash tag (QUEUE_PREFIX): reads go to its primary.
    scaleReads: 'master',
  };
}

/**
 * A new connection for `topology`, named `name` (CLIENT LIST). A Cluster is returned as
 * the Redis type: the hub uses only what both share (commands, pipeline/multi — whose
 * keys all carry the prefix's hash tag —, pub/sub, status, quit/disconnect), so its
 * users stay written against one interface.
 */
export function createRedisClient(topology: RedisTopology, name: string, overrides: Partial<RedisOptions> = {}): Redis {
  endDisconnectWhileReconnecting();
  const options: RedisOptions = { ...redisOptionsFor(topology), connectionName: name, ...overrides };
  if (topology.mode === 'cluster') return new Cluster(topology.nodes, clusterOptions(options)) as unknown as Redis;
  return new Redis(options);
}

/** True for a client createRedisClient built for a Cluster. */
export function isClusterClient(client: Redis): boolean {
  return (client as unknown as { isCluster?: boolean }).isCluster === true;
}

/**
 * What BullMQ gets as its `connection`: options for one server or Sentinel (every queue
 * and worker then opens its own connections, each following a failover); for a Cluster,
 * BullMQ needs a client instance (it cannot build one from options), shared by the
 * queues and duplicated by each worker for its blocking reads — its owner closes it.
 */
export function bullConnectionFor(topology: RedisTopology): RedisOptions | Cluster {
  // Before BullMQ builds its clients: a worker closed while Redis is away must still close.
  endDisconnectWhileReconnecting();
  if (topology.mode === 'cluster') return createRedisClient(topology, 'bullmq', { maxRetriesPerRequest: null }) as unknown as Cluster;
  return redisOptionsFor(topology);
}

/** The database keyspace events are published for (`__keyevent@<db>__`). */
export function redisDatabase(topology: RedisTopology): number {
  if (topology.mode === 'standalone') return redisOptionsFromUrl(topology.url).db ?? 0;
  if (topology.mode === 'sentinel') return topology.db;
  return 0;
}
