import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { JobProducer } from '../../../jobs/job-producer.service';
import { LiveCloseCode } from '../live-protocol';
import { LiveClient } from './live-client';
import { LiveFanout } from './live-fanout.service';
import { LiveMetrics } from './live-metrics';
import { LiveSettings } from './live-settings';
import { LiveWsConnection, MIN_PENDING_REQUESTS_LIMIT } from './live-ws-connection';

/** The few parts of a ws WebSocket a connection uses; records what was sent and the close. */
class FakeWs extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  sent: string[] = [];
  closedWith: number | null = null;
  send(message: string) {
    this.sent.push(message);
  }
  close(code: number) {
    this.closedWith = code;
    this.readyState = WebSocket.CLOSING;
  }
  ping() {}
  terminate() {}
  request(message: unknown) {
    this.emit('message', Buffer.from(JSON.stringify(message)), false);
  }
}

const S1 = '11111111-1111-4111-8111-111111111111';
const settings = { config: { clientBufferBytes: 4 * 1024 * 1024, resumeWindowSec: 300, maxSubscriptionsPerClient: 20 } } as unknown as LiveSettings;
const metrics = () => new LiveMetrics(new MetricsService({ allQueues: () => [] } as unknown as JobProducer));

describe('LiveWsConnection requests', () => {
  it('cuts a client with more requests waiting than the limit (ProtocolError), not queueing them without bound', () => {
    const ws = new FakeWs();
    // A subscribe whose check hangs (Postgres slow): every request after it waits its turn.
    let release: (ok: boolean) => void = () => undefined;
    const fanout = {
      add: jest.fn(),
      remove: jest.fn(),
      subscribe: jest.fn((_c: LiveClient) => new Promise<boolean>((r) => (release = r))),
      unsubscribe: jest.fn((c: LiveClient, id: string) => c.sendControl({ type: 'unsubscribed', id })),
    };
    const connection = new LiveWsConnection(ws as unknown as WebSocket, {} as Socket, { keyFingerprint: 'k', sessionIds: null, owner: null }, fanout as unknown as LiveFanout, settings, metrics(), () => undefined);
    ws.request({ type: 'subscribe', id: 'slow', sessions: [S1], media: ['events'] });
    for (let i = 1; i < MIN_PENDING_REQUESTS_LIMIT; i++) ws.request({ type: 'unsubscribe', id: 'x' });
    expect(connection.client.closed).toBe(false);
    ws.request({ type: 'unsubscribe', id: 'x' });
    expect(ws.closedWith).toBe(LiveCloseCode.ProtocolError);
    expect(connection.client.closed).toBe(true);
    release(true);
  });

  it('counts only requests still waiting: a client that waits for its answers is never cut', async () => {
    const ws = new FakeWs();
    const fanout = { add: jest.fn(), remove: jest.fn(), subscribe: jest.fn(async () => true), unsubscribe: jest.fn() };
    const connection = new LiveWsConnection(ws as unknown as WebSocket, {} as Socket, { keyFingerprint: 'k', sessionIds: null, owner: null }, fanout as unknown as LiveFanout, settings, metrics(), () => undefined);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < MIN_PENDING_REQUESTS_LIMIT; i++) ws.request({ type: 'unsubscribe', id: 'x' });
      await new Promise((r) => setImmediate(r));
    }
    expect(fanout.unsubscribe).toHaveBeenCalledTimes(3 * MIN_PENDING_REQUESTS_LIMIT);
    expect(connection.client.closed).toBe(false);
    expect(ws.closedWith).toBeNull();
  });
});
