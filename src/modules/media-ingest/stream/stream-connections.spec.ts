import { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { WebSocketServer } from 'ws';
import type { RtmsIngestConfig } from '../../../config/app.config';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import type { IngestMetrics } from '../ingest-metrics';
import type { RtmsStreamEntity } from '../../sessions';
import { SERVER_URLS_READ_TIMEOUT_MS, StreamConnectionEvents, StreamConnections } from './stream-connections';

/** A stand-in for Zoom's signaling server: answers every signaling handshake with status 0 and records the path dialed. */
class FakeSignalingServer {
  readonly dialed: string[] = [];
  private server!: WebSocketServer;

  async start(): Promise<this> {
    this.server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => this.server.once('listening', () => r()));
    this.server.on('connection', (ws, req) => {
      ws.once('message', (raw) => {
        const msg = JSON.parse(String(raw)) as { msg_type?: number };
        if (msg.msg_type !== RtmsMessageType.SignalingHandshakeReq) return;
        this.dialed.push(req.url ?? '');
        ws.send(JSON.stringify({ msg_type: RtmsMessageType.SignalingHandshakeResp, status_code: 0, media_server: { server_urls: { all: `${this.base}/media` } } }));
      });
    });
    return this;
  }

  get base(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Drops every signaling connection (Zoom's side goes away). */
  dropAll(): void {
    for (const c of this.server.clients) c.terminate();
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const counter = { inc: () => undefined };
const metrics = { handshakes: counter, oversizeCloses: counter, keepAlives: counter, keepAliveReply: { observe: () => undefined } } as unknown as IngestMetrics;
const config = { handshakeTimeoutMs: 5000, maxSignalingMessageBytes: 1024 * 1024, maxMessageBytes: 1024 * 1024, mediaSocketMode: 'all' } as RtmsIngestConfig;

describe('StreamConnections: signaling reconnects while Postgres is unreachable', () => {
  let zoom: FakeSignalingServer;
  let conn: StreamConnections | undefined;
  /** Resolved when the current signaling socket closes (not by us). */
  let signalingClosed: () => void = () => undefined;
  const nextSignalingClose = () => new Promise<void>((r) => (signalingClosed = r));
  let warn: jest.SpyInstance;
  const events: StreamConnectionEvents = {
    onSignalingMessage: () => undefined,
    onMediaMessage: () => undefined,
    onFastMedia: () => undefined,
    onMediaConnecting: () => undefined,
    onInvalid: () => undefined,
    onSignalingClosed: () => signalingClosed(),
    onMediaClosed: () => undefined,
    onSignalingKeepAlive: () => undefined,
    record: () => undefined,
  };

  const connections = (findByStreamId: () => Promise<RtmsStreamEntity | null>): StreamConnections =>
    (conn = new StreamConnections(
      { rtmsStreamId: 'st_pg_down', identity: { meetingIdentity: 'm==', rtmsStreamId: 'st_pg_down', signature: 'sig' }, serverUrls: `${zoom.base}/job`, mediaTypes: ['audio'], mediaParams: {} },
      { config, urlPolicy: { allowedHosts: ['127.0.0.1'], allowInsecureWs: true }, streams: { findByStreamId }, metrics },
      events,
    ));

  const row = (serverUrls: string) => ({ serverUrls }) as RtmsStreamEntity;

  beforeEach(async () => {
    zoom = await new FakeSignalingServer().start();
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await conn?.closeAll();
    conn = undefined;
    await zoom.stop();
    jest.restoreAllMocks();
  });

  it('a reconnect whose stream-row read fails still reaches Zoom, on the URLs it has; a failover URL is read again once Postgres answers', async () => {
    let pgDown = false;
    let stored = `${zoom.base}/row`;
    const c = connections(() => (pgDown ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) : Promise.resolve(row(stored))));
    await c.connectSignaling();
    expect(zoom.dialed).toEqual(['/row']);

    // Zoom drops signaling while Postgres fails over: every reconnect still dials Zoom.
    pgDown = true;
    for (let i = 0; i < 3; i++) {
      const closed = nextSignalingClose();
      zoom.dropAll();
      await closed;
      await c.connectSignaling();
      expect(c.signaling?.open).toBe(true);
    }
    expect(zoom.dialed).toEqual(['/row', '/row', '/row', '/row']);
    // Logged once for the outage, not once per attempt.
    expect(warn.mock.calls.filter(([m]) => String(m).includes('could not read its server URLs'))).toHaveLength(1);

    // Postgres is back, with URLs a failover stored meanwhile: the next connection uses them.
    pgDown = false;
    stored = `${zoom.base}/failover`;
    await c.connectSignaling();
    expect(zoom.dialed.at(-1)).toBe('/failover');
    expect(c.serverUrls).toBe(stored);
  });

  it(
    'a read Postgres never answers is given up after SERVER_URLS_READ_TIMEOUT_MS and Zoom is dialed',
    async () => {
      const c = connections(() => new Promise<never>(() => undefined));
      const started = Date.now();
      await c.connectSignaling();
      const took = Date.now() - started;
      expect(zoom.dialed).toEqual(['/job']);
      expect(c.signaling?.open).toBe(true);
      expect(took).toBeGreaterThanOrEqual(SERVER_URLS_READ_TIMEOUT_MS - 50);
      expect(took).toBeLessThan(SERVER_URLS_READ_TIMEOUT_MS + 2000);
      expect(warn.mock.calls.some(([m]) => String(m).includes(`no answer within ${SERVER_URLS_READ_TIMEOUT_MS} ms`))).toBe(true);
    },
    SERVER_URLS_READ_TIMEOUT_MS + 4000,
  );
});
