import Redis, { Cluster } from 'ioredis';
import { closeHandler } from 'ioredis/built/redis/event_handler';

const PATCHED = Symbol('rtmsHubDisconnectWhileReconnecting');

type Patchable<T> = T & { [PATCHED]?: true };

/** The ioredis internals the fix goes through (the same steps ioredis takes itself). */
interface ClusterInternals {
  setStatus(status: string): void;
  handleCloseEvent(reason?: Error): void;
}

/**
 * Makes `disconnect()` end a client that was waiting to reconnect. ioredis (5.11, Redis and
 * Cluster alike) cancels the reconnect timer and ends the socket, but a client between two
 * attempts has no socket: nothing closes, the client stays `reconnecting` (a Cluster
 * `disconnecting`) for ever and never emits 'end' (redis/ioredis#1247, #1830; the fix,
 * #2169, is not released). BullMQ closes a worker by disconnecting its blocking
 * connection and waiting for that 'end': a worker whose connection was between attempts —
 * a Redis failover, or an outage, at shutdown — never finished closing, so the process
 * (a SIGTERM, a drain) hung with no handle left, silently. Here the client then takes
 * ioredis's own close path, as it does for a client that never connected: status 'end',
 * 'end' emitted, queued commands rejected with "Connection is closed.".
 *
 * Patched on the prototypes because BullMQ builds its own clients from options. Idempotent.
 */
export function endDisconnectWhileReconnecting(): void {
  const redis = Redis.prototype as Patchable<Redis>;
  if (!redis[PATCHED]) {
    const disconnect = redis.disconnect;
    redis.disconnect = function (this: Redis, reconnect = false): void {
      const between = !reconnect && this.status === 'reconnecting';
      disconnect.call(this, reconnect);
      if (between && this.status === 'reconnecting') closeHandler(this)();
    };
    redis[PATCHED] = true;
  }
  const cluster = Cluster.prototype as Patchable<Cluster>;
  if (!cluster[PATCHED]) {
    const disconnect = cluster.disconnect;
    cluster.disconnect = function (this: Cluster, reconnect = false): void {
      const between = !reconnect && this.status === 'reconnecting';
      disconnect.call(this, reconnect);
      if (between && this.status === 'disconnecting') {
        const internals = this as unknown as ClusterInternals;
        internals.setStatus('close');
        internals.handleCloseEvent();
      }
    };
    cluster[PATCHED] = true;
  }
}
