/**
 * Which Redis the hub talks to: one server (REDIS_URL), a primary found through Sentinel
 * (REDIS_SENTINELS + REDIS_SENTINEL_NAME), or a Redis Cluster (REDIS_CLUSTER_NODES).
 * Sentinel and Cluster take precedence over REDIS_URL; both at once is refused. Every
 * Redis connection of the hub is built from this one value (src/common/redis/redis-factory.ts).
 */

export interface HostPort {
  host: string;
  port: number;
}

/**
 * How every connection notices a server that stopped answering without closing the socket
 * (a frozen process, a host gone dark, a partition): ioredis's socketTimeout — a command
 * sent and no byte back for this long and the connection is dropped and made again
 * (under Sentinel, to whichever primary the sentinels name by then). 0: off (then such a
 * connection waits for TCP to give up, which can take many minutes).
 */
export interface RedisConnectionTuning {
  socketTimeoutMs?: number;
}

export const DEFAULT_REDIS_SOCKET_TIMEOUT_MS = 12_000;
/** BullMQ's workers block up to 10 s waiting for a job (live readers 5 s): a socket timeout at or under it would cut those reads. */
export const MIN_REDIS_SOCKET_TIMEOUT_MS = 11_000;

export type RedisTopology = RedisConnectionTuning &
  (
  | { mode: 'standalone'; url: string }
  | {
      mode: 'sentinel';
      sentinels: HostPort[];
      /** The master group name the sentinels monitor. */
      name: string;
      sentinelUsername?: string;
      sentinelPassword?: string;
      sentinelTls: boolean;
      username?: string;
      password?: string;
      tls: boolean;
      db: number;
    }
  | {
      mode: 'cluster';
      /** Seed nodes, asked which primary serves the hub's slot. */
      nodes: HostPort[];
      /** A key in the hub's hash slot (the hash-tagged QUEUE_PREFIX): all of the hub's keys live there. */
      slotKey: string;
      username?: string;
      password?: string;
      tls: boolean;
    }
  );

/** The raw variables the topology is read from (strings as in the environment; booleans/ints already converted). */
export interface RedisEnv {
  REDIS_URL?: string;
  REDIS_SENTINELS?: string;
  REDIS_SENTINEL_NAME?: string;
  REDIS_SENTINEL_USERNAME?: string;
  REDIS_SENTINEL_PASSWORD?: string;
  REDIS_SENTINEL_TLS?: boolean;
  REDIS_CLUSTER_NODES?: string;
  REDIS_USERNAME?: string;
  REDIS_PASSWORD?: string;
  REDIS_TLS?: boolean;
  REDIS_DB?: number;
  REDIS_SOCKET_TIMEOUT_MS?: number;
  QUEUE_PREFIX?: string;
}

export const DEFAULT_QUEUE_PREFIX = 'rtms-hub';
/** The default under Cluster: BullMQ needs every key of a queue in one hash slot. */
export const DEFAULT_CLUSTER_QUEUE_PREFIX = '{rtms-hub}';

/** `host:port,host:port` (IPv6 as `[::1]:26379`); null when an entry does not parse. */
export function parseHostPorts(value: string): HostPort[] | null {
  const out: HostPort[] = [];
  for (const raw of value.split(',').map((s) => s.trim())) {
    if (!raw) continue;
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(raw);
    if (!m) return null;
    const port = Number(m[3]);
    if (port < 1 || port > 65535) return null;
    out.push({ host: m[1] ?? m[2], port });
  }
  return out.length > 0 ? out : null;
}

/**
 * The hash tag Redis Cluster hashes a key by: the text between the first `{` and the
 * first `}` after it, when not empty. Every key of the hub starts with QUEUE_PREFIX, so a
 * tagged prefix puts all of them (BullMQ's and the hub's own) in one slot.
 */
export function hashTagOf(prefix: string): string | null {
  const open = prefix.indexOf('{');
  if (open < 0) return null;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1 ? prefix.slice(open + 1, close) : null;
}

/** QUEUE_PREFIX as configured, or its default (hash-tagged under Cluster only, so single-server installs keep their keys). */
export function queuePrefix(env: RedisEnv): string {
  return env.QUEUE_PREFIX ?? (env.REDIS_CLUSTER_NODES ? DEFAULT_CLUSTER_QUEUE_PREFIX : DEFAULT_QUEUE_PREFIX);
}

/** Contradictory or incomplete Redis settings, one line each naming the variable (never a value: it may hold a password). */
export function redisSettingsProblems(env: RedisEnv): string[] {
  const problems: string[] = [];
  const sentinel = env.REDIS_SENTINELS !== undefined;
  const cluster = env.REDIS_CLUSTER_NODES !== undefined;
  if (sentinel && cluster) problems.push('REDIS_SENTINELS and REDIS_CLUSTER_NODES: set one topology, not both');
  if (!sentinel && !cluster && env.REDIS_URL === undefined) problems.push('REDIS_URL: required unless REDIS_SENTINELS or REDIS_CLUSTER_NODES is set');
  if (sentinel && parseHostPorts(env.REDIS_SENTINELS!) === null) problems.push('REDIS_SENTINELS: must be host:port entries separated by commas');
  if (cluster && parseHostPorts(env.REDIS_CLUSTER_NODES!) === null) problems.push('REDIS_CLUSTER_NODES: must be host:port entries separated by commas');
  if (sentinel && !env.REDIS_SENTINEL_NAME) problems.push('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the master group name the sentinels monitor)');
  if (!sentinel) {
    for (const name of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_USERNAME', 'REDIS_SENTINEL_PASSWORD', 'REDIS_SENTINEL_TLS'] as const) {
      if (env[name] !== undefined) problems.push(`${name}: only applies with REDIS_SENTINELS`);
    }
  }
  if (!sentinel && !cluster) {
    // With REDIS_URL alone these would be silently ignored: the URL carries them.
    for (const name of ['REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_TLS', 'REDIS_DB'] as const) {
      if (env[name] !== undefined) problems.push(`${name}: only applies with REDIS_SENTINELS or REDIS_CLUSTER_NODES (put it in REDIS_URL)`);
    }
  }
  const socketTimeout = env.REDIS_SOCKET_TIMEOUT_MS;
  if (socketTimeout !== undefined && socketTimeout !== 0 && socketTimeout < MIN_REDIS_SOCKET_TIMEOUT_MS) {
    problems.push(`REDIS_SOCKET_TIMEOUT_MS: 0 (off) or at least ${MIN_REDIS_SOCKET_TIMEOUT_MS} (BullMQ's workers wait up to 10 s for a job on a blocking read)`);
  }
  if (cluster) {
    if (env.REDIS_DB !== undefined && env.REDIS_DB !== 0) problems.push('REDIS_DB: Redis Cluster has database 0 only');
    if (hashTagOf(queuePrefix(env)) === null) {
      problems.push(`QUEUE_PREFIX: must carry a hash tag under REDIS_CLUSTER_NODES, e.g. {${env.QUEUE_PREFIX ?? DEFAULT_QUEUE_PREFIX}} (BullMQ needs a queue's keys in one slot; docs/operations.md "Redis topologies" says how to move existing jobs)`);
    }
  }
  return problems;
}

/** The topology of valid settings (redisSettingsProblems returned none). */
export function redisTopology(env: RedisEnv): RedisTopology {
  return { ...topologyOf(env), socketTimeoutMs: env.REDIS_SOCKET_TIMEOUT_MS ?? DEFAULT_REDIS_SOCKET_TIMEOUT_MS };
}

function topologyOf(env: RedisEnv): RedisTopology {
  if (env.REDIS_SENTINELS !== undefined) {
    return {
      mode: 'sentinel',
      sentinels: parseHostPorts(env.REDIS_SENTINELS) ?? [],
      name: env.REDIS_SENTINEL_NAME ?? '',
      sentinelUsername: env.REDIS_SENTINEL_USERNAME,
      sentinelPassword: env.REDIS_SENTINEL_PASSWORD,
      sentinelTls: env.REDIS_SENTINEL_TLS ?? false,
      username: env.REDIS_USERNAME,
      password: env.REDIS_PASSWORD,
      tls: env.REDIS_TLS ?? false,
      db: env.REDIS_DB ?? 0,
    };
  }
  if (env.REDIS_CLUSTER_NODES !== undefined) {
    return {
      mode: 'cluster',
      nodes: parseHostPorts(env.REDIS_CLUSTER_NODES) ?? [],
      slotKey: queuePrefix(env),
      username: env.REDIS_USERNAME,
      password: env.REDIS_PASSWORD,
      tls: env.REDIS_TLS ?? false,
    };
  }
  return { mode: 'standalone', url: env.REDIS_URL ?? '' };
}

/** Where the hub's Redis is, for logs: hosts and mode only, never credentials. */
export function describeRedisTopology(t: RedisTopology): string {
  const list = (hs: HostPort[]) => hs.map((h) => `${h.host}:${h.port}`).join(',');
  if (t.mode === 'sentinel') return `sentinel ${t.name} via ${list(t.sentinels)}`;
  if (t.mode === 'cluster') return `cluster ${list(t.nodes)}`;
  const u = new URL(t.url);
  return `standalone ${u.hostname}:${u.port || 6379}`;
}
