import Redis, { RedisOptions } from 'ioredis';
import { closeHandler } from 'ioredis/built/redis/event_handler';

const PATCHED = Symbol('rtmsHubDisconnectWhileReconnecting');

/**
 * The option that opts a connection in (a string key: ioredis copies options with lodash
 * `defaults`, which drops symbols). It rides along in the options BullMQ is given and in
 * every `duplicate()`.
 */
const OPT_IN = 'rtmsHubEndOnDisconnectBetweenAttempts';

/** `options` with the opt-in set (every connection the hub's factory builds). */
export function endingBetweenAttempts(options: RedisOptions): RedisOptions {
  return { ...options, [OPT_IN]: true } as RedisOptions;
}

/**
 * Makes `disconnect()` end an opted-in client that was waiting to reconnect. ioredis 5.11
 * cancels the reconnect timer and ends the socket, but a client between two attempts has
 * no socket: nothing closes, the client stays `reconnecting` for ever and never emits
 * 'end' (redis/ioredis#1247, #1830; the fix, #2169, is not released). BullMQ closes a
 * worker by disconnecting its blocking connection and waiting for that 'end': a worker
 * whose connection was between attempts — a Sentinel failover, or an outage, at shutdown —
 * never finished closing, and the process (a SIGTERM, a drain) hung with no handle left.
 * Such a client now takes ioredis's own close path, as one that never connected does:
 * status 'end', 'end' emitted, queued commands rejected with "Connection is closed.".
 *
 * Only for the connections the hub builds (`endingBetweenAttempts`), never for clients of
 * other code: an ioredis Cluster's node clients, for one, are disconnected by the Cluster
 * itself while it refreshes its slots, and an 'end' there removes the node from its pool
 * (the hub reaches a Cluster through plain clients: cluster-slot-connector.ts).
 *
 * Patched on the prototype because BullMQ builds its own clients from options. Idempotent.
 */
export function endDisconnectWhileReconnecting(): void {
  const proto = Redis.prototype as Redis & { [PATCHED]?: true };
  if (proto[PATCHED]) return;
  const disconnect = proto.disconnect;
  proto.disconnect = function (this: Redis, reconnect = false): void {
    const between = !reconnect && this.status === 'reconnecting' && (this.options as Record<string, unknown>)[OPT_IN] === true;
    disconnect.call(this, reconnect);
    if (between && this.status === 'reconnecting') closeHandler(this)();
  };
  proto[PATCHED] = true;
}
