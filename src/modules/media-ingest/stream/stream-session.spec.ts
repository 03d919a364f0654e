import { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import WebSocket, { WebSocketServer } from 'ws';
import type { RtmsIngestConfig } from '../../../config/app.config';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { waitFor } from '../../../../test/utils/wait-for';
import type { StreamSession } from './stream-session';
import { testStreamSession } from './stream-session.spec-helper';

/** A stand-in for Zoom: answers signaling (msg 1 → 2, offering one `all` media URL) and media (msg 3 → 4) handshakes, and counts them. */
class FakeZoom {
  signalingHandshakes = 0;
  mediaHandshakes = 0;
  signaling: WebSocket | null = null;
  media: WebSocket | null = null;
  /** KEEP_ALIVE_RESP (13) received, per socket. */
  keepAliveAnswers = { signaling: 0, media: 0 };
  /** How STREAM_CLOSE_REQ (21) is answered: msg 22 with this status, then signaling is closed. */
  closeAnswer = 0;
  private server!: WebSocketServer;

  async start(): Promise<this> {
    this.server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => this.server.once('listening', () => r()));
    this.server.on('connection', (ws) => {
      ws.on('message', (raw) => {
        const m = JSON.parse(String(raw)) as { msg_type?: number };
        if (m.msg_type === RtmsMessageType.KeepAliveResp) this.keepAliveAnswers[ws === this.signaling ? 'signaling' : 'media']++;
        if (m.msg_type === RtmsMessageType.SignalingHandshakeReq) {
          this.signalingHandshakes++;
          this.signaling = ws;
          ws.send(JSON.stringify({ msg_type: RtmsMessageType.SignalingHandshakeResp, status_code: 0, media_server: { server_urls: { all: `${this.base}/media` } } }));
        } else if (m.msg_type === RtmsMessageType.StreamCloseReq) {
          ws.send(JSON.stringify({ msg_type: RtmsMessageType.StreamCloseResp, rtms_stream_id: 'st1', status_code: this.closeAnswer, reason: this.closeAnswer ? 'INVALID_RTMS_STREAM_ID' : '', timestamp: Date.now() }));
          ws.close(1000, 'closing');
        } else if (m.msg_type === RtmsMessageType.DataHandshakeReq) {
          this.mediaHandshakes++;
          this.media = ws;
          ws.send(JSON.stringify({ msg_type: RtmsMessageType.DataHandshakeResp, status_code: 0 }));
        }
      });
    });
    return this;
  }

  get base(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get connections(): number {
    return this.server.clients.size;
  }

  async stop(): Promise<void> {
    for (const c of this.server.clients) c.terminate();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function session(zoom: FakeZoom, findByStreamId: () => Promise<null>, config: Partial<RtmsIngestConfig> = {}): StreamSession {
  return testStreamSession({ zoomBase: zoom.base, findByStreamId, config });
}

describe('StreamSession', () => {
  let zoom: FakeZoom;

  beforeEach(async () => {
    zoom = await new FakeZoom().start();
    for (const level of ['log', 'warn', 'error', 'debug'] as const) jest.spyOn(Logger.prototype, level).mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await zoom.stop();
    jest.restoreAllMocks();
  });

  it('replaces the media socket when Zoom says media was interrupted, even while that socket still looks open (a half-open link)', async () => {
    const s = session(zoom, async () => null);
    const run = s.run();
    await waitFor(() => zoom.mediaHandshakes === 1, { timeoutMs: 5000, what: 'the first media handshake' });
    // A notice within a second of a media handshake is taken as about the connection it
    // replaced (StreamSession.mediaInterrupted): this one comes after that second.
    await new Promise((r) => setTimeout(r, 1100));
    zoom.signaling!.send(JSON.stringify({ msg_type: RtmsMessageType.EventUpdate, event: { event_type: 7, timestamp: Date.now() } }));
    await waitFor(() => zoom.mediaHandshakes === 2, { timeoutMs: 5000, what: 'a new media handshake after event 7' });
    expect(zoom.signalingHandshakes).toBe(1);
    s.abort('shutdown');
    await expect(run).resolves.toMatchObject({ kind: 'handed_over' });
  });

  it('opens no socket once its lease is lost while it was still reading its server URLs', async () => {
    let answer!: (row: null) => void;
    const s = session(zoom, () => new Promise<null>((r) => (answer = r)));
    const run = s.run();
    await waitFor(() => answer !== undefined, { timeoutMs: 2000, what: 'the server URLs read' });
    s.abort('lease_lost');
    answer(null);
    await expect(run).resolves.toMatchObject({ kind: 'lease_lost' });
    expect(zoom.signalingHandshakes).toBe(0);
    expect(zoom.connections).toBe(0);
  });

  it('a close request Zoom accepts (msg 22, status 0) ends the stream with reason 20 when signaling closes', async () => {
    const s = session(zoom, async () => null);
    const run = s.run();
    await waitFor(() => zoom.mediaHandshakes === 1, { timeoutMs: 5000, what: 'the media handshake' });
    s.onSignal({ type: 'close', rtmsStreamId: 'st1', at: Date.now() });
    await expect(run).resolves.toMatchObject({ kind: 'stopped', stopReason: 20 });
  });

  it('a close request Zoom refuses leaves the stream running: the signaling drop after it is reconnected, not taken as the stop', async () => {
    zoom.closeAnswer = 2;
    const s = session(zoom, async () => null);
    const run = s.run();
    await waitFor(() => zoom.mediaHandshakes === 1, { timeoutMs: 5000, what: 'the media handshake' });
    s.onSignal({ type: 'close', rtmsStreamId: 'st1', at: Date.now() });
    await waitFor(() => zoom.signalingHandshakes === 2, { timeoutMs: 5000, what: 'signaling redone after the drop' });
    s.abort('shutdown');
    await expect(run).resolves.toMatchObject({ kind: 'handed_over' });
  });
  describe('a media socket that goes silent (no data, no keep-alive) while signaling stays healthy', () => {
    const keepAliveTimeoutMs = 800;
    let timers: NodeJS.Timeout[] = [];
    /** Zoom's KEEP_ALIVE_REQ every 100 ms on signaling, and on media when `onMedia`. */
    const keepAlives = (onMedia: boolean) => {
      timers.push(
        setInterval(() => {
          const msg = JSON.stringify({ msg_type: RtmsMessageType.KeepAliveReq, timestamp: Date.now() });
          zoom.signaling?.send(msg);
          if (onMedia) zoom.media?.send(msg);
        }, 100),
      );
    };
    afterEach(() => {
      for (const t of timers) clearInterval(t);
      timers = [];
    });

    it('is replaced after RTMS_KEEPALIVE_TIMEOUT_MS (a half-open link that Zoom never reported); signaling is kept', async () => {
      const s = session(zoom, async () => null, { keepAliveTimeoutMs });
      const run = s.run();
      await waitFor(() => zoom.mediaHandshakes === 1, { timeoutMs: 5000, what: 'the first media handshake' });
      keepAlives(false);
      await waitFor(() => zoom.mediaHandshakes === 2, { timeoutMs: 5000, what: 'a new media handshake after the media socket went silent' });
      expect(zoom.signalingHandshakes).toBe(1);
      expect(zoom.keepAliveAnswers.signaling).toBeGreaterThan(0);
      s.abort('shutdown');
      await expect(run).resolves.toMatchObject({ kind: 'handed_over' });
    });

    it('a stall of this process longer than the timeout (keep-alives waiting unread) replaces nothing', async () => {
      const s = session(zoom, async () => null, { keepAliveTimeoutMs });
      const run = s.run();
      await waitFor(() => zoom.mediaHandshakes === 1, { timeoutMs: 5000, what: 'the first media handshake' });
      keepAlives(true);
      await waitFor(() => zoom.keepAliveAnswers.media >= 3, { timeoutMs: 5000, what: 'keep-alives answered on media' });
      // The event loop blocked for 1.5 × the timeout: Zoom's requests wait in the socket.
      const until = Date.now() + 1.5 * keepAliveTimeoutMs;
      while (Date.now() < until) {
        /* busy: a long synchronous task */
      }
      const answered = zoom.keepAliveAnswers.media;
      await waitFor(() => zoom.keepAliveAnswers.media >= answered + 20, { timeoutMs: 10_000, what: 'keep-alives answered after the stall' });
      expect(zoom.mediaHandshakes).toBe(1);
      expect(zoom.signalingHandshakes).toBe(1);
      s.abort('shutdown');
      await expect(run).resolves.toMatchObject({ kind: 'handed_over' });
    });

    it('is kept while Zoom sends it keep-alives', async () => {
      const s = session(zoom, async () => null, { keepAliveTimeoutMs });
      const run = s.run();
      await waitFor(() => zoom.mediaHandshakes === 1, { timeoutMs: 5000, what: 'the first media handshake' });
      keepAlives(true);
      // 25 answers at 100 ms apart span three times the timeout.
      await waitFor(() => zoom.keepAliveAnswers.media >= 25, { timeoutMs: 10_000, what: 'keep-alives answered on media for 3 × the timeout' });
      expect(zoom.mediaHandshakes).toBe(1);
      expect(zoom.signalingHandshakes).toBe(1);
      s.abort('shutdown');
      await expect(run).resolves.toMatchObject({ kind: 'handed_over' });
    });
  });
});
