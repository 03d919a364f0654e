import type Redis from 'ioredis';

/** What keepAsking needs of a connection. */
type Askable = Pick<Redis, 'status' | 'ping' | 'once'>;

/**
 * The socket timeout (redis-factory.ts) runs only while a command waits for its reply: a
 * connection that sends nothing — a subscriber after SUBSCRIBE, an idle queue — would stay
 * on a frozen primary until its next command, then wait the whole timeout there (a
 * subscriber for ever, missing every message published on the new primary). A PING every
 * third of the timeout (allowed in subscriber mode) makes each connection find out on its
 * own, within about 1⅓ timeouts. Off (0): nothing is sent.
 */
export function keepAsking(client: Askable, socketTimeoutMs: number): void {
  if (socketTimeoutMs <= 0) return;
  const timer = setInterval(() => {
    if (client.status === 'ready') client.ping().catch(() => undefined);
  }, Math.floor(socketTimeoutMs / 3));
  timer.unref();
  client.once('end', () => clearInterval(timer));
}
