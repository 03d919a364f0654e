import { EventEmitter } from 'node:events';
import type Redis from 'ioredis';
import { keepAsking } from './keep-asking';

/** A stand-in for a dedicated connection: status, ping, and the 'end' event. */
function fakeClient(status = 'ready') {
  const client = Object.assign(new EventEmitter(), { status, ping: jest.fn(() => Promise.resolve('PONG')) });
  return client;
}

describe('connections ask Redis something now and then (so the socket timeout can notice a frozen server)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('PINGs every third of the socket timeout while ready, never while reconnecting, and stops once the connection ends', () => {
    const client = fakeClient();
    keepAsking(client as unknown as Redis, 12_000);
    jest.advanceTimersByTime(4000);
    expect(client.ping).toHaveBeenCalledTimes(1);
    client.status = 'reconnecting';
    jest.advanceTimersByTime(4000);
    expect(client.ping).toHaveBeenCalledTimes(1);
    client.status = 'ready';
    jest.advanceTimersByTime(4000);
    expect(client.ping).toHaveBeenCalledTimes(2);
    client.emit('end');
    jest.advanceTimersByTime(40_000);
    expect(client.ping).toHaveBeenCalledTimes(2);
  });

  it('does nothing with the socket timeout off', () => {
    const client = fakeClient();
    keepAsking(client as unknown as Redis, 0);
    jest.advanceTimersByTime(60_000);
    expect(client.ping).not.toHaveBeenCalled();
  });
});
