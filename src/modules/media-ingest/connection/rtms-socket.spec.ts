import { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { RtmsStatusError } from '../protocol/rtms-status';
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

describe('RtmsSocket close', () => {
  let server: WebSocketServer;
  const BURST = 500;

  beforeEach(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => server.once('listening', () => r()));
    server.on('connection', (ws) => {
      ws.once('message', () => {
        ws.send(JSON.stringify({ msg_type: RtmsMessageType.DataHandshakeResp, status_code: 0 }));
        // A burst already on its way when the client decides to close (as media is when
        // Zoom ends a stream on the signaling socket).
        for (let i = 0; i < BURST; i++) ws.send(JSON.stringify({ msg_type: 14, content: { user_id: 1, data: 'AAAA', timestamp: i }, pad: 'x'.repeat(2000) }));
      });
    });
  });

  afterEach(async () => {
    for (const c of server.clients) c.terminate();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('hands on every message the peer sent before our close frame, and resolves once the socket is closed', async () => {
    const sock = new RtmsSocket({
      kind: 'media',
      label: 'media',
      url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
      handshakeTimeoutMs: 5000,
      maxMessageBytes: 64 * 1024,
      keepAlive: { answered: () => undefined },
    });
    const timestamps: number[] = [];
    await sock.handshake({ msg_type: RtmsMessageType.DataHandshakeReq }, RtmsMessageType.DataHandshakeResp, {
      onMessage: (m) => void timestamps.push(Number((m.content as { timestamp: number }).timestamp)),
      onInvalid: () => undefined,
      onClose: () => undefined,
    });
    // Close as soon as the first media message is in: the rest is still in flight.
    await new Promise<void>((r) => {
      const t = setInterval(() => {
        if (timestamps.length > 0) {
          clearInterval(t);
          r();
        }
      }, 1);
    });
    await sock.close(1000, 'client closing');
    expect(sock.open).toBe(false);
    expect(timestamps).toEqual(Array.from({ length: BURST }, (_, i) => i));
  });
});

describe('RtmsSocket handshake refusals', () => {
  let server: WebSocketServer;
  let reply: Record<string, unknown> = {};

  beforeEach(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => server.once('listening', () => r()));
    server.on('connection', (ws) => ws.once('message', () => ws.send(JSON.stringify(reply))));
  });

  afterEach(async () => {
    for (const c of server.clients) c.terminate();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const refuse = async (kind: 'signaling' | 'media', response: Record<string, unknown>) => {
    reply = response;
    const sock = new RtmsSocket({ kind, label: kind, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, handshakeTimeoutMs: 5000, maxMessageBytes: 64 * 1024, keepAlive: { answered: () => undefined } });
    const responseType = kind === 'signaling' ? RtmsMessageType.SignalingHandshakeResp : RtmsMessageType.DataHandshakeResp;
    const err = await sock.handshake({ msg_type: responseType - 1 }, responseType, { onMessage: () => undefined, onInvalid: () => undefined, onClose: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RtmsStatusError);
    return err as RtmsStatusError;
  };

  // The older numbering (rtms-protocol.md §2) is read by the response the status came in.
  it('classifies the status by the response type it came in (older numbering)', async () => {
    expect((await refuse('signaling', { msg_type: RtmsMessageType.SignalingHandshakeResp, status_code: 15, reason: '' })).statusClass).toBe('permanent');
    expect((await refuse('signaling', { msg_type: RtmsMessageType.SignalingHandshakeResp, status_code: 17, reason: 'DUPLICATE_SIGNAL_REQUEST' })).statusClass).toBe('retryable');
    expect((await refuse('media', { msg_type: RtmsMessageType.DataHandshakeResp, status_code: 31, reason: 'DUPLICATE_MEDIA_DATA_CONNECTION' })).statusClass).toBe('retryable');
    expect((await refuse('media', { msg_type: RtmsMessageType.DataHandshakeResp, status_code: 15, reason: '' })).statusClass).toBe('retryable');
  });
});
