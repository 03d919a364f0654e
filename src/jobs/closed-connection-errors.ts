import { RedisConnection } from 'bullmq';

const GUARDED = Symbol('rtmsHubClosedConnectionErrors');

/**
 * Makes a closed BullMQ connection drop the failure of its own start instead of crashing
 * the process. A connection (of a queue, a worker, a worker's blocking client…) closed
 * before Redis ever answered removes its listeners, disconnects, and only then does its
 * start fail ("connect ECONNREFUSED" or "read ECONNRESET"): BullMQ emits that as an 'error'
 * that nobody hears any more, which throws inside a promise callback, an unhandled
 * rejection (a crash in production, a test failed at random in jest). It happens when the
 * socket was being opened at close time, hence only sometimes and more under load
 * (taskforcesh/bullmq#3546, still in 5.81). A Redis outage is already logged once by
 * its clients' listeners while they are open (redis-outage-log.ts); after close there
 * is no one left to tell. Errors of open connections, or that someone listens to, pass
 * unchanged.
 *
 * Patched on the prototype because the worker's blocking connection is always a plain
 * RedisConnection (no option picks another class). Idempotent.
 */
export function dropErrorsOfClosedConnections(): void {
  const proto = RedisConnection.prototype as RedisConnection & { [GUARDED]?: true };
  if (proto[GUARDED]) return;
  const emit = proto.emit;
  proto.emit = function (this: RedisConnection, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'error' && (this.status === 'closing' || this.status === 'closed') && this.listenerCount('error') === 0) return false;
    return emit.call(this, event, ...args);
  };
  proto[GUARDED] = true;
}
