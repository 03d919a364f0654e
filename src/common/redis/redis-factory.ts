import Redis, { RedisOptions } from 'ioredis';
import type { RedisTopology } from '../../config/redis-topology';
import { CLUSTER_SLOT_TARGET, ClusterSlotConnector } from './cluster-slot-connector';
import { endDisconnectWhileReconnecting, endingBetweenAttempts } from './disconnect-while-reconnecting';
import { reconnectDelayMs, redisOptionsFromUrl } from './redis-options';

/**
 * The one place the hub builds Redis connections, from the configured topology (one
 * server, Sentinel or Cluster): the shared command client, every dedicated connection
 * (subscribers, blocking readers, the media publisher) and BullMQ's.
 */

/**
 * Replies that mean "not here, not now" while the socket stays open: a primary demoted to
 * replica (a failover, or a managed endpoint that moved) answers writes with READONLY; a
 * Cluster node that no longer serves the hub's slot answers MOVED, and every node answers
 * CLUSTERDOWN while a slot has no primary (an election). Reconnect (Sentinel, or the
 * Cluster connector, then finds the primary again) and resend the command (2), instead
 * of failing every command until the server happens to drop the connection.
 */
const FAILOVER_REPLIES = ['READONLY', 'MOVED', 'CLUSTERDOWN'];

export function reconnectOnFailoverReply(err: Error): boolean | 1 | 2 {
  return FAILOVER_REPLIES.some((reply) => err.message.startsWith(reply)) ? 2 : false;
}

/**
 * ioredis options for one server, a Sentinel-managed primary or the Cluster primary that
 * serves the hub's slot (cluster-slot-connector.ts). maxRetriesPerRequest null as
 * BullMQ's blocking connections need; callers override it where failing fast is right.
 */
export function redisOptionsFor(topology: RedisTopology): RedisOptions {
  const common: RedisOptions = {
    maxRetriesPerRequest: null,
    retryStrategy: reconnectDelayMs,
    reconnectOnError: reconnectOnFailoverReply,
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
    case 'cluster': {
      const tls = topology.tls ? {} : undefined;
      const { username, password } = topology;
      // Every key of the hub carries QUEUE_PREFIX's hash tag, so one primary serves them all.
      return endingBetweenAttempts({
        ...common,
        username,
        password,
        tls,
        Connector: ClusterSlotConnector,
        [CLUSTER_SLOT_TARGET]: { seeds: topology.nodes, key: topology.slotKey, username, password, tls },
      } as RedisOptions);
    }
  }
}

/** A new connection for `topology`, named `name` (CLIENT LIST). */
export function createRedisClient(topology: RedisTopology, name: string, overrides: Partial<RedisOptions> = {}): Redis {
  endDisconnectWhileReconnecting();
  return new Redis({ ...redisOptionsFor(topology), connectionName: name, ...overrides });
}

/**
 * What BullMQ gets as its `connection`: options, so that every queue and worker opens its
 * own connections, each following a failover (Sentinel's or the Cluster's) on its own.
 */
export function bullConnectionFor(topology: RedisTopology): RedisOptions {
  // Before BullMQ builds its clients: a worker closed while Redis is away must still close.
  endDisconnectWhileReconnecting();
  return redisOptionsFor(topology);
}

/** The database keyspace events are published for (`__keyevent@<db>__`). */
export function redisDatabase(topology: RedisTopology): number {
  if (topology.mode === 'standalone') return redisOptionsFromUrl(topology.url).db ?? 0;
  if (topology.mode === 'sentinel') return topology.db;
  return 0;
}
