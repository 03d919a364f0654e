import { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { RtmsSocket } from './rtms-socket';

describe('RtmsSocket message size limit', () => {
  let server: WebSocketServer;
  const serverCloses: number[] = [];
  let received = 0;

  beforeEach(async () => {
    serverCloses.length = 0;
    received = 0;
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => server.once('listening', () => r()));
    server.on('connection', (ws) => {
      ws.on('close', (code) => serverCloses.push(code));
      ws.once('message', () => {
        ws.send(JSON.stringify({ msg_type: RtmsMessageType.SignalingHandshakeResp, status_code: 0 }));
        // Just under the limit, then over it: the second is refused, the first arrives.
        ws.send(JSON.stringify({ msg_type: 6, event: { event_type: 1, timestamp: 1 }, pad: 'x'.repeat(60_000) }));
        ws.send(JSON.stringify({ msg_type: 6, event: { event_type: 1, timestamp: 2 }, pad: 'x'.repeat(10 * 1024 * 1024) }));
      });
    });
  });

  afterEach(async () => {
    for (const c of server.clients) c.terminate();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('a message over maxMessageBytes closes the socket with 1009 (not buffered, not parsed) and the close is reported', async () => {
    const sock = new RtmsSocket({
      kind: 'signaling',
      label: 'signaling',
      url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
      handshakeTimeoutMs: 5000,
      maxMessageBytes: 64 * 1024,
      keepAlive: { answered: () => undefined },
    });
    const closed = new Promise<number>((resolve) =>
      sock
        .handshake({ msg_type: RtmsMessageType.SignalingHandshakeReq }, RtmsMessageType.SignalingHandshakeResp, {
          onMessage: () => void received++,
          onInvalid: () => undefined,
          onClose: (code) => resolve(code),
        })
        .catch(() => undefined),
    );
    expect(await closed).toBe(1009);
    expect(received).toBe(1);
    await new Promise<void>((r) => (serverCloses.length > 0 ? r() : server.clients.forEach((c) => c.once('close', () => r()))));
    expect(serverCloses).toEqual([1009]);
  });
});
